"""`progress export`, `progress import --as` and `flags explain` read a learner the same way (issue 26)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fiml_bot.cli import app as bot_app
from fiml_bot.ops.flags import bucket
from fiml_bot.storage import open_storage
from fiml_bot.storage.migrations_api import upgrade
from fiml_bot.tutor.model import Learner

FLAG = "review-mistakes"


def run_bot(*args: str):
    result = CliRunner().invoke(bot_app, list(args), env={"FIML_FLAGS_FILE": "", "FIML_DATABASE_URL": ""})
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


@pytest.fixture
def database(sqlite_url: str) -> str:
    upgrade(sqlite_url)
    return sqlite_url


def add_learners(url: str, *ids: str) -> None:
    with open_storage(url) as storage, storage() as uow:
        for learner_id in ids:
            uow.progress.save_learner(Learner(learner_id, learner_id.partition(":")[2]))
        uow.commit()


def learner_ids(url: str) -> list[str]:
    with open_storage(url) as storage, storage() as uow:
        return sorted(uow.progress.learner_ids())


def flags_file(tmp_path: Path) -> Path:
    path = tmp_path / "flags.json"
    rule = {"fractional": [["on", 50], ["off", 50]]}
    flag = {
        "state": "ENABLED",
        "variants": {"on": True, "off": False},
        "defaultVariant": "off",
        "targeting": rule,
    }
    path.write_text(json.dumps({"flags": {FLAG: flag}}), encoding="utf-8")
    return path


def document(tmp_path: Path) -> Path:
    """A learner's progress document, exported from another database (once per test)."""
    path = tmp_path / "doc.json"
    if path.exists():
        return path
    source = f"sqlite:///{tmp_path / 'source.db'}"
    upgrade(source)
    add_learners(source, "telegram:1")
    assert run_bot("progress", "export", "telegram:1", str(path), "--database", source).exit_code == 0
    return path


def test_import_as_a_bare_name_is_the_learner_export_finds(tmp_path: Path, database: str) -> None:
    add_learners(database, "console:alice")
    doc = document(tmp_path)
    result = run_bot("progress", "import", str(doc), "--as", "alice", "--database", database)
    assert result.exit_code == 0, result.output
    assert "not a valid learner id" not in result.output
    assert learner_ids(database) == ["console:alice"]
    assert run_bot("progress", "export", "alice", "-", "--database", database).exit_code == 0


def test_import_as_a_new_name_is_the_terminal_chat_s_learner(tmp_path: Path, database: str) -> None:
    result = run_bot("progress", "import", str(document(tmp_path)), "--as", "bob", "--database", database)
    assert result.exit_code == 0, result.output
    assert learner_ids(database) == ["console:bob"]
    result = run_bot("progress", "import", str(document(tmp_path)), "--as", "42", "--database", database)
    assert result.exit_code == 0, result.output
    assert learner_ids(database) == ["console:bob", "telegram:42"]


def test_an_ambiguous_name_is_a_usage_error_everywhere(tmp_path: Path, database: str) -> None:
    add_learners(database, "console:sam", "telegram:sam")
    flags = flags_file(tmp_path)
    for args in (
        ("progress", "export", "sam", str(tmp_path / "out.json")),
        ("progress", "import", str(document(tmp_path)), "--as", "sam"),
        ("flags", "explain", FLAG, "sam", "--flags", str(flags)),
    ):
        result = run_bot(*args, "--database", database)
        assert result.exit_code == 2, (args, result.output)
        assert "'sam' is ambiguous: console:sam, telegram:sam; give the full id" in result.output
    assert not (tmp_path / "out.json").exists()
    assert learner_ids(database) == ["console:sam", "telegram:sam"]


def test_flags_explain_answers_for_the_learner_the_bot_uses(tmp_path: Path, database: str) -> None:
    name = next(f"a{n}" for n in range(1000) if bucket(FLAG, f"a{n}") >= 50 > bucket(FLAG, f"console:a{n}"))
    add_learners(database, f"console:{name}")
    result = run_bot(
        "flags", "explain", FLAG, name, "--flags", str(flags_file(tmp_path)), "--database", database
    )
    assert result.exit_code == 0, result.output
    assert f"learner: console:{name}" in result.output and "variant: on" in result.output


def test_flags_explain_without_a_database_reads_a_bare_name_as_the_chat_s_learner(tmp_path: Path) -> None:
    missing = f"sqlite:///{tmp_path / 'none.db'}"
    result = run_bot(
        "flags", "explain", FLAG, "carol", "--flags", str(flags_file(tmp_path)), "--database", missing
    )
    assert result.exit_code == 0, result.output
    assert "learner: console:carol" in result.output and "no progress database" in result.output
    assert not (tmp_path / "none.db").exists()
