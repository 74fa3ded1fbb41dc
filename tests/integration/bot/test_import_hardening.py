"""Issue 10, items 1 and 3-6: hostile progress documents are refused clearly, and import is all or nothing."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fiml_bot.documents import InvalidDocument, export_all, export_learner, import_document, read_document
from fiml_bot.documents.schema import progress_schema
from fiml_bot.storage import MemoryStorage
from fiml_bot.tutor.model import Learner, XpAward
from testing.cli import fiml_bot
from testing.progress_seed import ADA, at, seed, seed_document

MAX_XP = 2**31 - 1  # PostgreSQL's `integer`: the most XP a learner may hold


def with_ledger_entry(document: dict[str, Any], amount: int, key: str = "support:big") -> dict[str, Any]:
    document = copy.deepcopy(document)
    game = document["gamification"]
    game["xp_ledger"].append(
        {
            "key": key,
            "amount": amount,
            "reason": "a manual credit",
            "lesson_id": None,
            "version": None,
            "awarded_at": "2026-03-04T12:00:00Z",
        }
    )
    game["total_xp"] += amount
    game["level"] = 1
    return document


def test_max_xp_is_the_schema_maximum_and_fits_postgres_integer() -> None:
    from fiml_bot.documents import codec

    game = progress_schema()["$defs"]["gamification_1_0"]["properties"]
    assert game["total_xp"]["maximum"] == codec.MAX_XP == MAX_XP
    assert progress_schema()["$defs"]["ledger_entry"]["properties"]["amount"]["maximum"] == MAX_XP


def test_a_huge_integer_is_refused_before_the_database_sees_it() -> None:
    document = with_ledger_entry(seed_document(), 16**3600)
    with pytest.raises(InvalidDocument) as caught:
        import_document(MemoryStorage(), document)
    assert "$.gamification.xp_ledger[4].amount" in str(caught.value) and "too large" in str(caught.value)


def test_an_amount_past_max_xp_is_refused() -> None:
    with pytest.raises(InvalidDocument, match=r"xp_ledger\[4\]\.amount"):
        import_document(MemoryStorage(), with_ledger_entry(seed_document(), MAX_XP + 1))


def test_entries_summing_past_max_xp_are_refused() -> None:
    document = with_ledger_entry(
        with_ledger_entry(seed_document(), MAX_XP - 100, "support:a"), 1000, "support:b"
    )
    document["gamification"]["total_xp"] = MAX_XP
    with pytest.raises(InvalidDocument, match="a learner holds at most 2,147,483,647"):
        import_document(MemoryStorage(), document)


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_the_store_holds_the_largest_xp_the_schema_allows(database_url: str) -> None:
    """Issue 10.1: PostgreSQL's int4 and SQLite both hold every XP value a valid document carries."""
    from fiml_bot.storage import open_storage
    from fiml_bot.storage.migrations_api import upgrade

    document = seed_document()
    document["gamification"]["xp_ledger"] = []
    document["gamification"]["total_xp"] = MAX_XP  # paid as one import adjustment of MAX_XP - 0
    document["lesson_completions"] = {}
    document["completion_history"] = [
        dict(c, xp_earned=MAX_XP) for c in document.get("completion_history", [])
    ][:1]
    upgrade(database_url)
    with open_storage(database_url) as storage:
        report = import_document(storage, document)
        assert report.learners[0].xp_total == MAX_XP
        again = export_learner(storage, ADA)
    assert again["gamification"]["total_xp"] == MAX_XP


# -- 10.3: depth ---------------------------------------------------------------------------------


def test_deep_nesting_is_a_clear_error_not_a_recursion_traceback(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    result = fiml_bot("progress", "import", str(path), "--database", f"sqlite:///{tmp_path / 'x.db'}")
    assert result.exit_code == 1
    assert "nested more than 32 levels deep" in result.stderr
    assert "Traceback" not in result.output and "RecursionError" not in result.output


def test_a_document_within_the_depth_limit_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "ok.json"
    path.write_text(json.dumps(seed_document()), encoding="utf-8")
    assert read_document(str(path))["user_id"] == ADA


# -- 10.4: all or nothing ------------------------------------------------------------------------


def test_a_bundle_whose_second_learner_fails_writes_nothing(storage: Callable[[], Any]) -> None:
    source = MemoryStorage()
    seed(source)
    seed(source, "telegram:2")
    bundle = export_all(source)
    with storage() as uow:  # the second learner is near the most XP a learner holds
        uow.progress.save_learner(Learner("telegram:2"))
        uow.progress.award_xp(
            XpAward("telegram:2", MAX_XP - 10, "a manual credit", "support:huge", None, None, at(1))
        )
        uow.commit()
    with pytest.raises(InvalidDocument, match="a learner holds at most"):
        import_document(storage, bundle, force=True)
    with storage() as uow:
        assert uow.progress.learner(ADA) is None  # the first learner was not committed either
        assert uow.progress.xp_total("telegram:2") == MAX_XP - 10


def test_a_failure_while_writing_the_second_learner_rolls_back_the_first(
    storage: Callable[[], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from fiml_bot.documents import transfer

    source = MemoryStorage()
    seed(source)
    seed(source, "telegram:2")
    real_merge = transfer._merge

    def failing_merge(repo: Any, item: Any, now: Any) -> Any:
        if item.records.learner.id == "telegram:2":
            raise RuntimeError("the database refused the row")
        return real_merge(repo, item, now)

    monkeypatch.setattr(transfer, "_merge", failing_merge)
    with pytest.raises(RuntimeError):
        import_document(storage, export_all(source))
    with storage() as uow:
        assert uow.progress.learner_ids() == []


# -- 10.5: another learner's document ------------------------------------------------------------


def other_learner_store() -> MemoryStorage:
    store = MemoryStorage()
    with store() as uow:
        uow.progress.save_learner(Learner(ADA, name="Someone else"))
        uow.progress.award_xp(
            XpAward(ADA, 30, "lesson completed", "lesson:other", "other_lesson", "1.0.0", at(1))
        )
        uow.commit()
    return store


def test_a_document_for_a_learner_with_other_data_is_refused() -> None:
    from fiml_bot.documents.ownership import ImportConflict

    store = other_learner_store()
    with pytest.raises(
        ImportConflict,
        match=r"telegram:1 already exists with 1 XP entry this document does not have.*--as USER.*--force",
    ):
        import_document(store, seed_document())
    with store() as uow:
        assert uow.progress.xp_total(ADA) == 30


def test_the_dry_run_says_whose_data_it_would_merge_into() -> None:
    report = import_document(other_learner_store(), seed_document(), dry_run=True)
    assert "telegram:1 already exists with 1 XP entry this document does not have" in report.summary()
    assert "--as USER or --force" in report.summary()


def test_reimporting_the_same_learners_document_is_no_conflict() -> None:
    store = MemoryStorage()
    import_document(store, seed_document())
    assert not import_document(store, seed_document()).changed


@pytest.fixture
def cli_database(tmp_path: Path) -> str:
    from fiml_bot.storage import open_storage
    from fiml_bot.storage.migrations_api import upgrade

    url = f"sqlite:///{tmp_path / 'target.db'}"
    upgrade(url)
    with open_storage(url) as store, store() as uow:
        uow.progress.save_learner(Learner(ADA, name="Someone else"))
        uow.progress.award_xp(
            XpAward(ADA, 30, "lesson completed", "lesson:other", "other_lesson", "1.0.0", at(1))
        )
        uow.commit()
    return url


def test_cli_requires_as_or_force(cli_database: str, tmp_path: Path) -> None:
    from fiml_bot.storage import open_storage

    path = tmp_path / "ada.json"
    path.write_text(json.dumps(seed_document()), encoding="utf-8")
    dry = fiml_bot("progress", "import", str(path), "--database", cli_database, "--dry-run")
    assert dry.exit_code == 0 and "already exists with 1 XP entry" in dry.stdout
    refused = fiml_bot("progress", "import", str(path), "--database", cli_database)
    assert refused.exit_code == 1 and "--as USER" in refused.stderr
    moved = fiml_bot("progress", "import", str(path), "--database", cli_database, "--as", "42")
    assert moved.exit_code == 0, moved.output
    assert moved.stdout.startswith("telegram:42: new learner")
    with open_storage(cli_database) as store, store() as uow:
        assert uow.progress.xp_total(ADA) == 30 and uow.progress.xp_total("telegram:42") == 77
    forced = fiml_bot("progress", "import", str(path), "--database", cli_database, "--force")
    assert forced.exit_code == 0, forced.output


# -- 10.6: sizes ---------------------------------------------------------------------------------


def test_a_huge_name_is_refused_with_the_limit() -> None:
    document = seed_document()
    document["profile"]["name"] = "x" * (1 << 20)
    with pytest.raises(InvalidDocument) as caught:
        import_document(MemoryStorage(), document)
    assert "$.profile.name: is 1,048,576 characters long; at most 256 are allowed" in str(caught.value)
    assert len(str(caught.value)) < 500


def test_a_huge_ledger_is_refused_with_the_limit() -> None:
    document = seed_document()
    entry = document["gamification"]["xp_ledger"][0]
    document["gamification"]["xp_ledger"] = [dict(entry, key=f"k{i}", amount=0) for i in range(100_001)]
    with pytest.raises(InvalidDocument) as caught:
        import_document(MemoryStorage(), document)
    assert "has 100,001 items; at most 100,000 are allowed" in str(caught.value)
