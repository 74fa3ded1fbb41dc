"""Progress documents (SPEC §6): export, import, migration of 0.9 documents, validation, and the CLI."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import io
import json
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from fiml_bot.content import LessonContent
from fiml_bot.documents import (
    MIGRATIONS,
    InvalidDocument,
    export_all,
    export_learner,
    import_document,
    migrate,
    migrations,
    normalize_learner_id,
    read_document,
    read_records,
    resolve_version,
    schema_problems,
    write_document,
)
from fiml_bot.documents.migrations import Migration, MigrationContext
from fiml_bot.documents.schema import progress_schema
from fiml_bot.documents.transfer import UnknownLearnerError, adjust_key, more_advanced
from fiml_bot.storage import MemoryStorage
from fiml_bot.tutor.model import (
    BadgeAward,
    Completion,
    Learner,
    LessonProgress,
    QuizAnswer,
    XpAward,
)
from fiml_cms import yamlfile
from fiml_cms.config import load_settings
from fiml_cms.errors import ContentError, UsageError
from fiml_cms.lesson import ChangelogEntry
from testing.cli import cli, fiml_bot
from testing.output_schema import conforms
from testing.progress_seed import ADA, at, seed, seed_document
from testing.repo import commit_all

MARKET = "what_is_a_market"


def records(units: Callable[[], Any], learner_id: str = ADA):
    with units() as uow:
        return read_records(uow.progress, learner_id)


def raw_state(units: Callable[[], Any], learner_id: str = ADA) -> tuple[Any, ...]:
    """Everything stored for a learner, revisions included (a write that changes nothing still shows)."""
    with units() as uow:
        repo = uow.progress
        return (
            repo.learner(learner_id),
            repo.all_progress(learner_id),
            repo.completions(learner_id),
            repo.xp_awards(learner_id),
            repo.badges(learner_id),
        )


def without_export_time(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "exported_at"}


OLD = {
    "user_id": "telegram_123456",
    "schema_version": "0.9",
    "lessons": {
        MARKET: {
            "status": "completed",
            "sections_completed": ["intro", "orders"],
            "current_section": None,
            "started_at": "2026-12-10T10:00:00Z",
            "last_accessed": "2026-12-20T10:30:00Z",
        },
        "reading_stock_prices": {
            "status": "in_progress",
            "sections_completed": ["intro"],
            "current_section": "quote",
            "started_at": "2026-12-21T08:00:00+01:00",
            "last_accessed": "2026-12-21T08:15:00+01:00",
        },
    },
    "lesson_completions": {
        MARKET: {"completed_at": "2026-12-20T10:30:00Z", "xp_earned": 50, "quiz_score": 4, "quiz_total": 5},
        "diversification": {
            "completed_at": "2026-12-01T09:00:00Z",
            "xp_earned": 75,
            "quiz_score": 5,
            "quiz_total": 5,
        },
    },
    "gamification": {
        "total_xp": 500,
        "level": 4,
        "badges": ["first_steps", "week_warrior"],
        "streak_days": 7,
    },
}


def old_document() -> dict[str, Any]:
    return copy.deepcopy(OLD)


# -- the schema ---------------------------------------------------------------------------------


def test_every_field_of_the_schema_is_described() -> None:
    schema = progress_schema()
    defs = schema["$defs"]
    missing = []

    def described(node: dict[str, Any]) -> bool:
        if "description" in node:
            return True
        ref = node.get("$ref", "")
        return ref.startswith("#/$defs/") and "description" in defs[ref.removeprefix("#/$defs/")]

    for name, node in defs.items():
        if "description" not in node:
            missing.append(f"$defs/{name}")
        for field, sub in node.get("properties", {}).items():
            if not described(sub):
                missing.append(f"$defs/{name}/{field}")
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert not missing, missing


def test_the_seeds_example_shape_is_a_valid_document_once_ids_and_versions_are_ours() -> None:
    seed_example = {
        "user_id": "telegram:123456",
        "schema_version": "1.0",
        "lessons": {
            "stock_basics_001": {
                "version": "1.2.0",
                "status": "in_progress",
                "sections_completed": ["introduction", "live_example"],
                "current_section": "explanation",
                "started_at": "2024-11-24T10:00:00Z",
                "last_accessed": "2024-11-24T10:15:00Z",
            }
        },
        "lesson_completions": {
            "stock_basics_001": {
                "completed_at": "2024-11-24T10:30:00Z",
                "version": "1.2.0",
                "xp_earned": 50,
                "quiz_score": 4,
                "quiz_total": 5,
            }
        },
        "gamification": {
            "total_xp": 500,
            "level": 4,
            "badges": ["first_steps", "week_warrior"],
            "streak_days": 7,
        },
    }
    assert schema_problems(seed_example) == []
    assert schema_problems(OLD) == []


def test_exports_are_valid_documents_and_bundles() -> None:
    storage = MemoryStorage()
    seed(storage)
    seed(storage, "console:local")
    assert schema_problems(export_learner(storage, ADA)) == []
    bundle = export_all(storage)
    assert schema_problems(bundle) == []
    assert bundle["schema_version"] == "1.0" and [d["user_id"] for d in bundle["users"]] == [
        "console:local",
        ADA,
    ]


def test_an_unknown_field_gets_a_did_you_mean() -> None:
    storage = MemoryStorage()
    seed(storage)
    document = export_learner(storage, ADA)
    document["lesons"] = document.pop("lessons")
    document["gamification"]["zzzzzz"] = 1
    problems = {".".join(map(str, p.path)): p.message for p in schema_problems(document)}
    assert problems["lesons"].startswith("unknown field; did you mean `lessons`? (allowed here: ")
    assert problems["gamification.zzzzzz"].startswith("unknown field (allowed here: ")  # nothing like it


# -- export and import --------------------------------------------------------------------------


def test_the_document_keeps_the_seed_shape_and_every_completion() -> None:
    document = seed_document()
    assert document["user_id"] == ADA and document["schema_version"] == "1.0"
    lesson = document["lessons"][MARKET]
    assert {
        k: lesson[k]
        for k in ("version", "status", "sections_completed", "current_section", "started_at", "last_accessed")
    } == {
        "version": "1.1.0",
        "status": "in_progress",
        "sections_completed": ["intro"],
        "current_section": "orders",
        "started_at": "2026-03-05T08:00:00Z",
        "last_accessed": "2026-03-05T08:05:00Z",
    }
    # the seed's one-per-lesson view holds the latest completion; the history holds both
    assert document["lesson_completions"][MARKET] == {
        "completed_at": "2026-03-03T11:00:00.000005Z",
        "version": "1.0.0",
        "attempt": 2,
        "xp_earned": 0,
        "quiz_score": 4,
        "quiz_total": 4,
    }
    assert [(c["lesson_id"], c["attempt"]) for c in document["completion_history"]] == [
        (MARKET, 1),
        (MARKET, 2),
    ]
    game = document["gamification"]
    assert (game["total_xp"], game["level"], game["badges"], game["streak_days"]) == (
        77,
        1,
        ["first_steps", "path_complete:foundations"],
        4,
    )
    assert [entry["key"] for entry in game["xp_ledger"]] == [
        f"answer:{MARKET}:q1",
        f"lesson:{MARKET}",
        "answer:reading_stock_prices:q1",
        "support:ticket-7",
    ]
    assert document["profile"] == {
        "name": "Ada",
        "time_zone": "Europe/Berlin",
        "active": True,
        "created_at": "2026-03-01T09:00:00.123456Z",
    }
    assert (game["freeze_available"], game["freeze_used_on"], game["last_active_day"]) == (
        False,
        "2026-03-03",
        "2026-03-05",
    )


def test_export_then_import_into_an_empty_store_round_trips_exactly() -> None:
    source = MemoryStorage()
    seed(source)
    document = export_learner(source, ADA)
    target = MemoryStorage()
    report = import_document(target, document)
    assert report.changed and report.learners[0].created
    assert records(target) == records(source)
    assert without_export_time(export_learner(target, ADA)) == without_export_time(document)


def test_round_trip_through_every_store_kind(storage: Callable[[], Any]) -> None:
    """Memory, SQLite and (with FIML_TEST_POSTGRES_URL) PostgreSQL keep every value, microseconds included."""
    document = seed_document()
    import_document(storage, document)
    assert without_export_time(export_learner(storage, ADA)) == without_export_time(document)
    before = raw_state(storage)
    assert not import_document(storage, document).changed
    assert raw_state(storage) == before


def test_import_does_not_change_the_document() -> None:
    document = seed_document()
    kept = copy.deepcopy(document)
    import_document(MemoryStorage(), document)
    assert document == kept


def test_importing_the_same_document_twice_changes_nothing_the_second_time() -> None:
    document = seed_document()
    target = MemoryStorage()
    import_document(target, document)
    before = raw_state(target)
    report = import_document(target, document)
    assert not report.changed
    assert report.learners[0].summary() == f"{ADA}: already up to date; 77 XP"
    assert raw_state(target) == before  # revisions too: nothing was even rewritten


def test_import_never_lowers_xp_nor_pays_a_key_twice() -> None:
    target = MemoryStorage()
    with target() as uow:
        uow.progress.save_learner(Learner(ADA))
        uow.progress.award_xp(
            XpAward(ADA, 50, "lesson completed", f"lesson:{MARKET}", MARKET, "1.0.0", at(1))
        )
        uow.progress.award_xp(
            XpAward(ADA, 900, "lesson completed", "lesson:options_basics", "options_basics", "1.0.0", at(1))
        )
        uow.commit()
    document = seed_document()  # 77 XP, 50 of them under the same lesson key
    report = import_document(target, document, force=True)  # the store holds an entry the document lacks
    with target() as uow:
        total = uow.progress.xp_total(ADA)
        keys = [a.key for a in uow.progress.xp_awards(ADA)]
    assert total == 950 + 27  # the shared key paid once, the other three entries added
    assert keys.count(f"lesson:{MARKET}") == 1
    assert report.learners[0].xp_adjusted == 0 and report.learners[0].xp_total == 977
    # a document with a lower total (and no ledger) adds nothing and takes nothing away
    lower = old_document()
    lower["user_id"] = ADA
    lower["lesson_completions"] = {}
    lower["lessons"] = {}
    lower["gamification"]["total_xp"] = 100
    import_document(target, lower, force=True)
    with target() as uow:
        assert uow.progress.xp_total(ADA) == 977


def test_a_total_above_the_ledger_is_paid_as_one_adjustment_once() -> None:
    document = seed_document()
    document["gamification"]["total_xp"] = 300
    document["gamification"]["level"] = 3
    target = MemoryStorage()
    report = import_document(target, document, now=at(9))
    assert report.learners[0].xp_adjusted == 223
    with target() as uow:
        assert uow.progress.xp_total(ADA) == 300
        adjust = uow.progress.xp_awards(ADA)[-1]
    assert (adjust.key, adjust.amount, adjust.awarded_at) == (adjust_key(ADA, 300), 223, at(9))
    assert adjust.key == "import-adjust:telegram:1:300"
    assert not import_document(target, document).changed


def test_existing_progress_keeps_the_more_advanced_record() -> None:
    target = MemoryStorage()
    with target() as uow:
        repo = uow.progress
        repo.save_learner(
            Learner(
                ADA,
                name="Ada B.",
                time_zone="Asia/Tokyo",
                streak_days=9,
                last_active_day=dt.date(2026, 3, 1),
                created_at=at(2),
            )
        )
        # the store is further in this one (completed) ...
        repo.save_progress(
            LessonProgress(
                ADA,
                "reading_stock_prices",
                "1.0.0",
                "completed",
                None,
                ("intro", "quote"),
                (),
                1,
                at(1),
                at(2),
                completed_version="1.0.0",
                completed_at=at(2),
            )
        )
        # ... and behind in this one (in progress, accessed earlier than the document's)
        repo.save_progress(
            LessonProgress(ADA, MARKET, "1.0.0", "in_progress", "intro", (), (), 1, at(1), at(1, 10))
        )
        uow.commit()
    report = import_document(target, seed_document())
    result = report.learners[0]
    assert (result.lessons_added, result.lessons_updated, result.lessons_kept) == (0, 1, 1)
    with target() as uow:
        repo = uow.progress
        assert repo.progress(ADA, "reading_stock_prices").status == "completed"
        market = repo.progress(ADA, MARKET)
        assert (market.attempt, market.pinned_version, market.completed_version) == (2, "1.1.0", "1.0.0")
        learner = repo.learner(ADA)
    # the store's settings stay; the earlier created_at and the later streak state come in
    assert (learner.name, learner.time_zone, learner.created_at) == (
        "Ada B.",
        "Asia/Tokyo",
        at(1, micro=123456),
    )
    assert (learner.streak_days, learner.last_active_day, learner.freeze_used_on) == (
        4,
        dt.date(2026, 3, 5),
        dt.date(2026, 3, 3),
    )


@pytest.mark.parametrize(
    ("incoming", "current", "expected"),
    [
        (
            {"status": "completed", "updated_at": at(1)},
            {"status": "in_progress", "updated_at": at(5)},
            True,
        ),  # completed beats in progress
        ({"status": "quiz", "updated_at": at(5)}, {"status": "completed", "updated_at": at(1)}, False),
        (
            {"status": "in_progress", "updated_at": at(5)},
            {"status": "quiz", "updated_at": at(4)},
            True,
        ),  # two in progress: later wins
        ({"status": "quiz", "updated_at": at(4)}, {"status": "in_progress", "updated_at": at(5)}, False),
        (
            {"status": "in_progress", "updated_at": at(4)},
            {"status": "in_progress", "updated_at": at(4)},
            False,
        ),  # a tie keeps the store's
        (
            {"status": "in_progress", "updated_at": at(6), "completed_at": at(2)},
            {"status": "completed", "updated_at": at(2)},
            True,
        ),  # a retake after completing
        (
            {"status": "in_progress", "updated_at": None},
            {"status": "in_progress", "updated_at": at(1)},
            False,
        ),
    ],
)
def test_which_progress_record_is_more_advanced(
    incoming: dict[str, Any], current: dict[str, Any], expected: bool
) -> None:
    base = LessonProgress(ADA, MARKET, "1.0.0")
    assert (
        more_advanced(dataclasses.replace(base, **incoming), dataclasses.replace(base, **current)) is expected
    )


def test_completions_and_badges_are_merged_without_duplicates() -> None:
    target = MemoryStorage()
    with target() as uow:
        repo = uow.progress
        repo.save_learner(Learner(ADA))
        repo.add_completion(Completion(ADA, MARKET, "1.0.0", 1, 3, 4, 50, at(2, 10)))  # also in the document
        repo.add_completion(Completion(ADA, "diversification", "1.0.0", 1, 5, 5, 75, at(6)))  # only here
        repo.award_badge(BadgeAward(ADA, "first_steps", at(1)))  # also in the document, earlier
        repo.award_badge(BadgeAward(ADA, "perfect_quiz", at(6)))
        uow.commit()
    result = import_document(target, seed_document(), force=True).learners[
        0
    ]  # the store has a completion the document lacks
    assert (result.completions_added, result.badges_added) == (1, 1)
    with target() as uow:
        completions = [(c.lesson_id, c.attempt) for c in uow.progress.completions(ADA)]
        badges = {b.badge: b.awarded_at for b in uow.progress.badges(ADA)}
    assert completions == [(MARKET, 1), (MARKET, 2), ("diversification", 1)]
    assert badges == {"first_steps": at(1), "path_complete:foundations": at(3, 11), "perfect_quiz": at(6)}


def test_a_bundle_imports_every_learner() -> None:
    source = MemoryStorage()
    seed(source)
    seed(source, "console:local")
    bundle = export_all(source)
    target = MemoryStorage()
    report = import_document(target, bundle)
    assert [r.learner_id for r in report.learners] == ["console:local", ADA]
    for learner_id in ("console:local", ADA):
        assert records(target, learner_id) == records(source, learner_id)
    assert not import_document(target, bundle).changed


def test_a_dry_run_reports_and_writes_nothing() -> None:
    target = MemoryStorage()
    report = import_document(target, seed_document(), dry_run=True)
    assert report.dry_run and report.changed and report.learners[0].created
    assert "dry run: nothing was written" in report.summary()
    with target() as uow:
        assert uow.progress.learner_ids() == []


def test_export_of_an_unknown_learner() -> None:
    with pytest.raises(UnknownLearnerError, match="no learner 'telegram:9'"):
        export_learner(MemoryStorage(), "telegram:9")


def test_export_all_of_an_empty_store() -> None:
    bundle = export_all(MemoryStorage(), now=at(1))
    assert bundle == {"schema_version": "1.0", "exported_at": "2026-03-01T09:00:00Z", "users": []}


def test_a_learner_the_tutor_taught_round_trips(git_repo: Path) -> None:
    """Real records: a whole lesson and quiz through the tutor on published content, then export/import."""
    from fiml_bot.tutor.events import ListLessons, Start
    from testing.tutor_driver import Learner as Driver
    from testing.tutor_driver import make_tutor

    assert cli("tag", MARKET).exit_code == 0
    source = MemoryStorage()
    tutor, _ = make_tutor(git_repo, source)
    ada = Driver(tutor, id=ADA)
    ada.send(Start())
    ada.send(ListLessons())
    ada.press("What Is a Market?")
    ada.read_to_quiz()
    while "Lesson complete" not in ada.text:
        ada.answer_current(correct=True)
    document = export_learner(source, ADA)
    assert document["lessons"][MARKET]["status"] == "completed" and document["gamification"]["total_xp"] > 0
    target = MemoryStorage()
    import_document(target, document)
    assert records(target) == records(source)
    assert not import_document(target, document).changed


# -- a property: any learner round-trips --------------------------------------------------------

_moments = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 12, 31), timezones=st.just(dt.UTC)
)


def _maybe(strategy):
    return st.none() | strategy


_lessons = st.sampled_from([MARKET, "diversification", "options_basics", "risk_and_return"])
_versions = st.sampled_from(["1.0.0", "1.1.0", "2.0.0", "1.10.3-rc.1"])
_items = st.sampled_from(["intro", "quote", "q1", "q2", "summary"])


@st.composite
def learners(
    draw: Any,
) -> tuple[Learner, list[LessonProgress], list[Completion], list[XpAward], list[BadgeAward]]:
    learner_id = draw(st.sampled_from([ADA, "console:Ada Lovelace", "telegram:99"]))
    learner = Learner(
        learner_id,
        draw(st.text(max_size=20)),
        draw(st.sampled_from(["UTC", "Europe/Berlin", "Asia/Kolkata"])),
        draw(st.booleans()),
        draw(st.integers(0, 400)),
        draw(_maybe(st.dates())),
        draw(st.booleans()),
        draw(_maybe(st.dates())),
        draw(_moments),
    )
    progress = [
        LessonProgress(
            learner_id,
            lesson_id,
            draw(_versions),
            draw(st.sampled_from(["in_progress", "quiz", "completed"])),
            draw(_maybe(_items)),
            tuple(draw(st.lists(_items, max_size=4))),
            tuple(
                QuizAnswer(q, draw(st.text(max_size=5)), draw(st.booleans()), draw(_versions))
                for q in draw(st.lists(_items, max_size=3))
            ),
            draw(st.integers(1, 5)),
            draw(_maybe(_moments)),
            draw(_maybe(_moments)),
            draw(_maybe(_versions)),
            draw(_maybe(_moments)),
            draw(_maybe(_versions)),
            draw(_maybe(_versions)),
        )
        for lesson_id in draw(st.lists(_lessons, unique=True, max_size=4))
    ]
    keys = draw(st.lists(st.tuples(_lessons, _moments), unique=True, max_size=5))
    completions = [
        Completion(
            learner_id,
            lesson_id,
            draw(_versions),
            draw(st.integers(1, 5)),
            draw(st.integers(0, 9)),
            draw(st.integers(0, 9)),
            draw(st.integers(0, 200)),
            when,
        )
        for lesson_id, when in keys
    ]
    xp = [
        XpAward(
            learner_id,
            draw(st.integers(0, 500)),
            draw(st.text(max_size=10)),
            key,
            draw(_maybe(_lessons)),
            draw(_maybe(_versions)),
            draw(_moments),
        )
        for key in draw(st.lists(st.text(min_size=1, max_size=12), unique=True, max_size=6))
    ]
    badges = [
        BadgeAward(learner_id, badge, draw(_moments))
        for badge in draw(
            st.lists(
                st.sampled_from(["first_steps", "week_warrior", "path_complete:foundations"]), unique=True
            )
        )
    ]
    return learner, progress, completions, xp, badges


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(learners())
def test_any_learner_round_trips_through_a_document(data: Any) -> None:
    learner, progress, completions, xp, badges = data
    source = MemoryStorage()
    with source() as uow:
        uow.progress.save_learner(learner)
        for record in progress:
            uow.progress.save_progress(record)
        for completion in completions:
            uow.progress.add_completion(completion)
        for award in xp:
            uow.progress.award_xp(award)
        for badge in badges:
            uow.progress.award_badge(badge)
        uow.commit()
    document = json.loads(json.dumps(export_learner(source, learner.id)))  # through JSON text
    target = MemoryStorage()
    import_document(target, document)
    assert records(target, learner.id) == records(source, learner.id)
    assert not import_document(target, document).changed


# -- 0.9 documents ------------------------------------------------------------------------------


def test_a_0_9_document_migrates_without_being_changed() -> None:
    document = old_document()
    kept = copy.deepcopy(document)
    migrated, steps = migrate(document)
    assert document == kept
    assert steps == ["0.9 -> 1.0"]
    assert migrated["schema_version"] == "1.0" and migrated["user_id"] == "telegram:123456"
    assert schema_problems(migrated) == []
    # without content every lesson is assumed at 1.0.0
    assert {lesson_id: entry["version"] for lesson_id, entry in migrated["lessons"].items()} == {
        MARKET: "1.0.0",
        "reading_stock_prices": "1.0.0",
        "diversification": "1.0.0",
    }
    market = migrated["lessons"][MARKET]
    assert (market["completed_version"], market["completed_at"], market["attempt"], market["answers"]) == (
        "1.0.0",
        "2026-12-20T10:30:00Z",
        1,
        [],
    )
    # a completion without a lessons entry gets one, so the tutor shows the lesson as done
    assert migrated["lessons"]["diversification"]["status"] == "completed"
    assert [(c["lesson_id"], c["version"]) for c in migrated["completion_history"]] == [
        ("diversification", "1.0.0"),
        (MARKET, "1.0.0"),
    ]
    # completions that paid XP become the ledger entries the tutor would have written
    ledger = migrated["gamification"]["xp_ledger"]
    assert [(e["key"], e["amount"], e["awarded_at"]) for e in ledger] == [
        ("lesson:diversification", 75, "2026-12-01T09:00:00Z"),
        (f"lesson:{MARKET}", 50, "2026-12-20T10:30:00Z"),
    ]
    game = migrated["gamification"]
    assert (game["last_active_day"], game["freeze_available"], game["streak_days"]) == ("2026-12-21", True, 7)
    assert migrated["profile"] == {
        "name": "",
        "time_zone": "UTC",
        "active": True,
        "created_at": "2026-12-01T09:00:00Z",
    }


def test_importing_a_0_9_document_keeps_its_total_and_is_idempotent() -> None:
    document = old_document()
    kept = copy.deepcopy(document)
    target = MemoryStorage()
    report = import_document(target, document, now=at(9))
    assert document == kept
    result = report.learners[0]
    assert result.migrated == ("0.9 -> 1.0",) and result.created
    assert (result.xp_total, result.xp_adjusted) == (500, 375)
    assert any("no content" in w for w in result.warnings)
    with target() as uow:
        repo = uow.progress
        keys = {a.key: a.amount for a in repo.xp_awards("telegram:123456")}
        assert keys == {
            "lesson:diversification": 75,
            f"lesson:{MARKET}": 50,
            "import-adjust:telegram:123456:500": 375,
        }
        assert {b.badge for b in repo.badges("telegram:123456")} == {"first_steps", "week_warrior"}
        assert repo.progress("telegram:123456", "reading_stock_prices").current_section == "quote"
    before = raw_state(target, "telegram:123456")
    assert not import_document(target, document).changed
    assert raw_state(target, "telegram:123456") == before


def test_migration_steps_chain_and_each_gets_its_own_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry is keyed by source version: a 1.0 -> 1.1 step runs after 0.9 -> 1.0, and a step
    that scribbles on its input harms neither the caller's document nor the previous step's output."""
    seen: list[dict[str, Any]] = []

    def to_1_1(document: dict[str, Any], context: MigrationContext) -> dict[str, Any]:
        seen.append(document)
        document["lessons"].clear()
        document["schema_version"] = "1.1"
        return document

    monkeypatch.setattr(migrations, "CURRENT_VERSION", "1.1")
    monkeypatch.setitem(MIGRATIONS, "1.0", Migration("1.0", "1.1", to_1_1))
    document = old_document()
    migrated, steps = migrate(document)
    assert steps == ["0.9 -> 1.0", "1.0 -> 1.1"]
    assert migrated["schema_version"] == "1.1" and migrated["lessons"] == {}
    assert document == OLD


class FakeContent:
    """Published versions with release dates in the latest version's changelog."""

    def __init__(self, lessons: dict[str, list[tuple[str, str | None]]]) -> None:
        self.lessons = lessons

    def versions(self, lesson_id: str) -> list[str]:
        if lesson_id not in self.lessons:
            raise ContentError(f"unknown lesson {lesson_id!r}")
        return [version for version, _ in self.lessons[lesson_id]]

    def latest(self, lesson_id: str) -> Any:
        entries = [ChangelogEntry(v, d, ("x",)) for v, d in reversed(self.lessons[lesson_id]) if d]
        return SimpleNamespace(changelog=tuple(entries))


@pytest.mark.parametrize(
    ("lesson_id", "moment", "expected"),
    [
        ("dated", at(20, month=12), "1.10.0"),  # the newest released by then (semver order, not text order)
        ("dated", at(10, month=12), "1.2.0"),
        ("dated", at(1, 0, month=12), "1.2.0"),  # released that day
        ("dated", at(30, month=11), "1.0.0"),
        ("dated", at(1, month=1), "1.0.0"),  # before every release: the oldest
        ("dated", None, "1.0.0"),  # no moment: the oldest
        ("undated", at(20, month=12), "2.0.0"),  # no dates: the oldest published
        ("unknown", at(20, month=12), "1.0.0"),  # not in the content
        ("unpublished", at(20, month=12), "1.0.0"),
    ],
)
def test_the_version_a_learner_most_likely_had(
    lesson_id: str, moment: dt.datetime | None, expected: str
) -> None:
    content = FakeContent(
        {
            "dated": [("1.0.0", "2026-11-20"), ("1.10.0", "2026-12-15"), ("1.2.0", "2026-12-01")],
            "undated": [("2.0.0", None), ("2.1.0", None)],
            "unpublished": [],
        }
    )
    assert resolve_version(content, lesson_id, moment) == expected  # type: ignore[arg-type]
    assert resolve_version(None, lesson_id, moment) == "1.0.0"


def released_market(root: Path) -> LessonContent:
    """MARKET published as 1.0.0 (changelog date 2026-11-26) and 1.1.0 (2026-12-15), as git tags."""
    assert cli("tag", MARKET).exit_code == 0
    path = root / "content/lessons" / f"{MARKET}.yaml"
    path.write_text(
        yamlfile.bump_text(path.read_text(encoding="utf-8"), "1.1.0", "2026-12-15", ["Clearer example"]),
        encoding="utf-8",
    )
    commit_all(root, f"{MARKET} 1.1.0")
    assert cli("tag", MARKET).exit_code == 0
    return LessonContent.open(root, load_settings(root))


def test_0_9_versions_resolved_from_a_real_content_repository(git_repo: Path) -> None:
    content = released_market(git_repo)
    assert content.versions(MARKET) == ["1.0.0", "1.1.0"]
    document = old_document()
    document["lesson_completions"][MARKET]["completed_at"] = "2026-12-01T10:30:00Z"  # before 1.1.0
    document["lessons"][MARKET]["last_accessed"] = "2026-12-01T10:30:00Z"
    document["lessons"]["reading_stock_prices"]["status"] = "in_progress"
    document["lessons"][MARKET + "_x"] = document["lessons"].pop(
        "reading_stock_prices"
    )  # a lesson the content lacks
    kept = copy.deepcopy(document)
    target = MemoryStorage()
    report = import_document(target, document, content=content)
    assert document == kept
    with target() as uow:
        market = uow.progress.progress("telegram:123456", MARKET)
        other = uow.progress.progress("telegram:123456", MARKET + "_x")
        completion = uow.progress.completions("telegram:123456", MARKET)[0]
    assert (market.pinned_version, market.completed_version, completion.version) == (
        "1.0.0",
        "1.0.0",
        "1.0.0",
    )
    assert other.pinned_version == "1.0.0"
    assert any(f"lesson {MARKET}_x: not published" in w for w in report.learners[0].warnings)
    # a completion after the 1.1.0 release resolves to 1.1.0, an in-progress lesson by its start
    later = old_document()
    later["lessons"]["what_is_a_market"]["status"] = "in_progress"
    later["lessons"]["what_is_a_market"]["started_at"] = "2026-12-16T00:00:00Z"
    later["lesson_completions"] = {}
    migrated, _ = migrate(later, MigrationContext(content))
    assert migrated["lessons"][MARKET]["version"] == "1.1.0"
    migrated, _ = migrate(old_document(), MigrationContext(content))
    assert (
        migrated["lessons"][MARKET]["version"] == migrated["lesson_completions"][MARKET]["version"] == "1.1.0"
    )  # completed 2026-12-20


def test_0_9_versions_resolved_from_a_preview_of_the_lessons_folder(content_repo: Path) -> None:
    path = content_repo / "content/lessons" / f"{MARKET}.yaml"
    text = yamlfile.bump_text(path.read_text(encoding="utf-8"), "1.1.0", "2026-12-01", ["Fix"])
    path.write_text(yamlfile.bump_text(text, "1.2.0", "2026-12-15", ["More"]), encoding="utf-8")
    content = LessonContent.open(content_repo, load_settings(content_repo), preview=True)
    assert content.versions(MARKET) == ["1.2.0"]  # a preview serves each lesson's current version only
    migrated, _ = migrate(old_document(), MigrationContext(content))
    assert migrated["lessons"][MARKET]["version"] == "1.2.0"  # completed 2026-12-20, after the 1.2.0 date
    assert migrated["lessons"]["reading_stock_prices"]["version"] == "1.0.0"  # the bundled lesson's version
    assert migrated["lessons"]["diversification"]["version"] == "1.0.0"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("123", "telegram:123"),
        ("telegram_123", "telegram:123"),
        ("telegram:123", "telegram:123"),
        ("console:local", "console:local"),
        (" 42 ", "telegram:42"),
    ],
)
def test_learner_ids(given: str, expected: str) -> None:
    assert normalize_learner_id(given) == expected


# -- invalid documents --------------------------------------------------------------------------


def broken(edit: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    document = seed_document()
    edit(document)
    return document


INVALID = [
    (
        "status",
        lambda d: d["lessons"][MARKET].update(status=5),
        r"\$\.lessons\.what_is_a_market\.status: must be one of .*not the number 5",
    ),
    (
        "total as text",
        lambda d: d["gamification"].update(total_xp="500"),
        r"\$\.gamification\.total_xp: must be a whole number, not \"500\"",
    ),
    (
        "negative XP",
        lambda d: d["gamification"]["xp_ledger"][0].update(amount=-5),
        r"\$\.gamification\.xp_ledger\[0\]\.amount: .*minimum of 0",
    ),
    (
        "unknown version",
        lambda d: d.update(schema_version="2.0"),
        r"\$\.schema_version: unknown schema_version '2\.0': this fiml-bot reads 0\.9, 1\.0",
    ),
    ("missing field", lambda d: d.pop("gamification"), r"\$: the required field `gamification` is missing"),
    (
        "unknown field",
        lambda d: d["lessons"][MARKET].update(colour="red"),
        r"\$\.lessons\.what_is_a_market\.colour: unknown field",
    ),
    (
        "bad lesson id",
        lambda d: d["lessons"].update({"Bad Id": d["lessons"][MARKET]}),
        r"\$\.lessons\[\"Bad Id\"\]: the key \"Bad Id\" is not a valid lesson id",
    ),
    (
        "bad version",
        lambda d: d["lessons"][MARKET].update(version="1.2"),
        r"\$\.lessons\.what_is_a_market\.version: \"1\.2\" is not a valid version",
    ),
    (
        "bad timestamp",
        lambda d: d["lessons"][MARKET].update(started_at="yesterday"),
        r"started_at: \"yesterday\" is not a valid timestamp",
    ),
    ("bad user id", lambda d: d.update(user_id="ada"), r"\$\.user_id: \"ada\" is not a valid learner id"),
    (
        "bad time zone",
        lambda d: d["profile"].update(time_zone="Mars/Olympus"),
        r"\$\.profile\.time_zone: 'Mars/Olympus' is not an IANA time zone",
    ),
    (
        "duplicate key",
        lambda d: d["gamification"]["xp_ledger"].append(dict(d["gamification"]["xp_ledger"][0], amount=1)),
        r"xp_ledger\[4\]\.key: the key .* is already used by item 0",
    ),
    (
        "not an object",
        lambda d: d.clear() or d.update(users=[[]]),
        r"\$\.users\[0\]: must be an object, not a list",
    ),
]


@pytest.mark.parametrize(("name", "edit", "message"), INVALID, ids=[case[0] for case in INVALID])
def test_invalid_documents_are_refused_with_their_path_and_nothing_is_written(
    name: str, edit: Callable[[dict[str, Any]], Any], message: str
) -> None:
    target = MemoryStorage()
    with pytest.raises(InvalidDocument) as raised:
        import_document(target, broken(edit), source="ada.json")
    assert re.search(message, str(raised.value)), str(raised.value)
    assert str(raised.value).startswith("ada.json: ")
    assert raised.value.exit_code == 1
    with target() as uow:
        assert uow.progress.learner_ids() == []


def test_one_bad_document_in_a_bundle_stops_the_whole_import() -> None:
    source = MemoryStorage()
    seed(source)
    seed(source, "console:local")
    bundle = export_all(source)
    bundle["users"][1]["gamification"]["streak_days"] = -1
    target = MemoryStorage()
    with pytest.raises(InvalidDocument, match=r"\$\.users\[1\]\.gamification\.streak_days"):
        import_document(target, bundle)
    with target() as uow:
        assert uow.progress.learner_ids() == []


def test_a_0_9_document_that_does_not_migrate_to_a_valid_one_names_the_problem() -> None:
    document = old_document()
    document["user_id"] = "ada"  # neither platform-qualified nor a number
    with pytest.raises(
        InvalidDocument,
        match=r"\$\.user_id: \"ada\" is not a valid learner id.*\(after migrating 0\.9 -> 1\.0\)",
    ):
        import_document(MemoryStorage(), document)


def test_a_non_object_document() -> None:
    with pytest.raises(InvalidDocument, match=r"\$: a progress document must be a JSON object"):
        import_document(MemoryStorage(), [1, 2])


# -- files --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"user_id": "telegram:1",\n "schema_version": }',
            r"not valid JSON: Expecting value at line 2, column 20",
        ),
        ('{"a": 1, "a": 2}', r"the key 'a' appears twice"),
        ('{"a": NaN}', r"NaN is not a JSON number"),
        ("", r"not valid JSON: Expecting value at line 1, column 1"),
    ],
)
def test_files_that_are_not_strict_json(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "doc.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidDocument, match=message):
        read_document(str(path))


def test_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"no such file"):
        read_document(str(tmp_path / "nope.json"))
    with pytest.raises(UsageError, match=r"is a folder"):
        read_document(str(tmp_path))


def test_writes_are_atomic_and_leave_no_temporary_files(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    path.write_text("old", encoding="utf-8")
    os.chmod(path, 0o640)
    write_document(str(path), {"a": "ü"})
    assert json.loads(path.read_text(encoding="utf-8")) == {"a": "ü"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # a replaced file keeps its permissions
    with pytest.raises(TypeError):
        write_document(str(path), {"a": object()})  # cannot be rendered: the old file stays
    assert json.loads(path.read_text(encoding="utf-8")) == {"a": "ü"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]
    new = tmp_path / "new.json"
    write_document(str(new), {})
    assert stat.S_IMODE(new.stat().st_mode) == 0o600  # personal data: the owner only
    with pytest.raises(UsageError, match="does not exist"):
        write_document(str(tmp_path / "missing" / "out.json"), {})


def test_stdin_and_stdout() -> None:
    out = io.StringIO()
    write_document("-", {"b": 1}, stdout=out)
    assert read_document("-", stdin=io.StringIO(out.getvalue())) == {"b": 1}


# -- the command line ---------------------------------------------------------------------------


runner = CliRunner()


@pytest.fixture
def databases(tmp_path: Path) -> tuple[str, str]:
    """Two SQLite databases at the current schema: a source with two learners, and an empty target."""
    from fiml_bot.storage import open_storage
    from fiml_bot.storage.migrations_api import upgrade

    urls = (f"sqlite:///{tmp_path / 'source.db'}", f"sqlite:///{tmp_path / 'target.db'}")
    for url in urls:
        upgrade(url)
    with open_storage(urls[0]) as storage:
        seed(storage)
        seed(storage, "telegram:2")
    return urls


def stored(url: str, learner_id: str = ADA):
    from fiml_bot.storage import open_storage

    with open_storage(url) as storage:
        return raw_state(storage, learner_id)


def stored_records(url: str, learner_id: str):
    from fiml_bot.storage import open_storage

    with open_storage(url) as storage:
        return records(storage, learner_id)


def test_cli_round_trip_of_one_learner(databases: tuple[str, str], tmp_path: Path) -> None:
    source, target = databases
    out = tmp_path / "ada.json"
    result = fiml_bot(
        "progress", "export", "1", str(out), "--database", source
    )  # a bare number is a Telegram user
    assert result.exit_code == 0, result.output
    assert f"exported 1 learner to {out}" in result.stdout
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["user_id"] == ADA and schema_problems(document) == []
    result = fiml_bot("progress", "import", str(out), "--database", target)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        f"{ADA}: new learner, 2 lessons added, 2 completions added, 4 XP entries added (+77 XP), 2 badges added; 77 XP"
    )
    again = tmp_path / "again.json"
    assert fiml_bot("progress", "export", ADA, str(again), "--database", target).exit_code == 0
    assert without_export_time(json.loads(again.read_text(encoding="utf-8"))) == without_export_time(document)
    before = stored(target)
    result = fiml_bot("progress", "import", str(out), "--database", target)
    assert result.exit_code == 0 and "already up to date" in result.stdout
    assert stored(target) == before


def test_progress_export_json_says_what_it_exported(databases: tuple[str, str], tmp_path: Path) -> None:
    source, _ = databases
    out = tmp_path / "ada.json"
    result = fiml_bot("progress", "export", ADA, str(out), "--database", source, "--json")
    assert result.exit_code == 0, result.output
    summary = conforms(result.stdout, "fiml-bot/progress-export")
    assert summary["learners"] == [ADA] and summary["count"] == 1 and not summary["bundle"]
    assert summary["file"] == str(out) and json.loads(out.read_text(encoding="utf-8"))["user_id"] == ADA
    everyone = tmp_path / "all.json"
    result = fiml_bot("progress", "export", "--all", str(everyone), "--database", source, "--json")
    summary = conforms(result.stdout, "fiml-bot/progress-export")
    bundle = json.loads(everyone.read_text(encoding="utf-8"))
    assert summary["learners"] == [d["user_id"] for d in bundle["users"]] == [ADA, "telegram:2"]
    assert summary["bundle"] and summary["schema_version"] == bundle["schema_version"]
    refused = fiml_bot("progress", "export", "--all", "-", "--database", source, "--json")
    assert refused.exit_code == 2 and "give a FILE" in refused.output and refused.stdout == ""


def test_cli_round_trip_of_every_learner_through_stdout_and_stdin(databases: tuple[str, str]) -> None:
    source, target = databases
    exported = fiml_bot("progress", "export", "--all", "-", "--database", source)
    assert exported.exit_code == 0, exported.output
    bundle = json.loads(exported.stdout)
    assert [d["user_id"] for d in bundle["users"]] == [ADA, "telegram:2"]
    assert "exported 2 learners to standard output" in exported.stderr
    result = fiml_bot("progress", "import", "-", "--database", target, input=exported.stdout)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("new learner") == 2
    for learner_id in (ADA, "telegram:2"):
        assert stored_records(target, learner_id) == stored_records(source, learner_id)
    again = fiml_bot("progress", "export", "--all", "-", "--database", target)
    assert [without_export_time(d) for d in json.loads(again.stdout)["users"]] == [
        without_export_time(d) for d in bundle["users"]
    ]


def test_cli_imports_a_0_9_document_with_and_without_content(
    databases: tuple[str, str], tmp_path: Path, git_repo: Path
) -> None:
    _, target = databases
    path = tmp_path / "old.json"
    path.write_text(json.dumps(OLD), encoding="utf-8")
    result = fiml_bot(
        "progress", "import", str(path), "--database", target, "--content", str(tmp_path / "missing")
    )
    assert result.exit_code == 2 and "--content" in result.stderr and "no such folder" in result.stderr
    (tmp_path / "empty").mkdir()
    result = fiml_bot(
        "progress",
        "import",
        str(path),
        "--database",
        target,
        "--content",
        str(tmp_path / "empty"),
        "--dry-run",
    )
    assert result.exit_code == 0, result.output
    assert "migrated 0.9 -> 1.0" in result.stdout and "dry run: nothing was written" in result.stdout
    assert f"lesson {MARKET}: not published in the content; version 1.0.0 assumed" in result.stderr
    released_market(git_repo)
    result = fiml_bot("progress", "import", str(path), "--database", target, "--content", str(git_repo))
    assert result.exit_code == 0, result.output
    from fiml_bot.storage import open_storage

    with open_storage(target) as storage, storage() as uow:
        assert uow.progress.progress("telegram:123456", MARKET).pinned_version == "1.1.0"
        assert uow.progress.xp_total("telegram:123456") == 500
    assert json.loads(path.read_text(encoding="utf-8")) == OLD  # the file is only read


@pytest.mark.parametrize(
    ("content", "code", "message"),
    [
        (None, 2, r"fiml-bot: error: .*nope\.json: no such file"),
        (
            "{not json",
            1,
            r"not valid JSON: Expecting property name enclosed in double quotes at line 1, column 2",
        ),
        (
            '{"schema_version": "3.0", "user_id": "telegram:1"}',
            1,
            r"\$\.schema_version: unknown schema_version '3\.0'",
        ),
        (
            '{"schema_version": "1.0", "user_id": 5, "lessons": [], "lesson_completions": {}, "gamification": {}}',
            1,
            r"\$\.user_id: must be text, not the number 5\n.*\$\.lessons: must be an object, not a list",
        ),
    ],
)
def test_cli_refuses_bad_input_and_writes_nothing(
    databases: tuple[str, str], tmp_path: Path, content: str | None, code: int, message: str
) -> None:
    _, target = databases
    path = tmp_path / "nope.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = fiml_bot("progress", "import", str(path), "--database", target)
    assert result.exit_code == code, result.output
    assert re.search(message, result.stderr, re.DOTALL), result.stderr
    assert "Traceback" not in result.output
    from fiml_bot.storage import open_storage

    with open_storage(target) as storage, storage() as uow:
        assert uow.progress.learner_ids() == []


def test_cli_export_errors(databases: tuple[str, str], tmp_path: Path) -> None:
    source, _ = databases
    out = tmp_path / "out.json"
    result = fiml_bot("progress", "export", "telegram:99", str(out), "--database", source)
    assert result.exit_code == 1 and "no learner 'telegram:99'" in result.stderr
    assert not out.exists()
    result = fiml_bot("progress", "export", "--all", ADA, str(out), "--database", source)
    assert result.exit_code == 2 and "with --all give only the file" in result.stderr
    result = fiml_bot("progress", "export", str(out), "--database", source)
    assert result.exit_code == 2 and "give the learner and the file" in result.stderr
    result = fiml_bot(
        "progress", "export", ADA, str(out), "--database", f"sqlite:///{tmp_path / 'missing.db'}"
    )
    assert result.exit_code == 1 and "fiml-bot db upgrade" in result.stderr
    assert not out.exists()
