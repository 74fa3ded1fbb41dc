"""The operations through the CLI, as an operator runs them: snapshot, earn more, restore; snapshots
listed and pruned; upgrade snapshots first and runs the doctor; downgrade refuses to drop data;
db current shows the window; db rehearse on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from fiml_bot.cli import app
from fiml_bot.storage import migrations_api
from fiml_bot.storage.database import make_engine
from fiml_bot.tutor.events import Start
from testing.repo import git
from testing.tutor_driver import Learner, make_tutor

BOTH = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
pytestmark = pytest.mark.usefixtures("pg_tools")
runner = CliRunner()


def invoke(*args: str) -> object:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def xp(url: str, who: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(
                    text("SELECT coalesce(sum(amount), 0) FROM xp_ledger WHERE learner_id = :w"), {"w": who}
                ).scalar_one()
            )
    finally:
        engine.dispose()


def take_lesson(root: Path, url: str, who: str, title: str) -> None:
    from fiml_bot.storage.unit_of_work import open_storage

    with open_storage(url) as storage:
        tutor, _ = make_tutor(root, storage)
        learner = Learner(tutor, who)
        learner.send(Start())
        learner.press("Lessons")
        learner.press(title)
        learner.read_to_quiz()
        for _ in range(5):
            learner.answer_current()


@BOTH
def test_snapshot_earn_more_restore_keeps_the_newer_xp(published: Path, database_url: str) -> None:
    migrations_api.upgrade(database_url)
    take_lesson(published, database_url, "console:local", "What Is a Market?")
    earned = xp(database_url, "console:local")
    snap = invoke("db", "snapshot", "--database", database_url)
    assert snap.exit_code == 0, snap.output
    path = Path(snap.output.split()[1])
    assert path.parent == Path("var/snapshots") and stat.S_IMODE(path.stat().st_mode) == 0o600
    manifest = json.loads(path.with_suffix(".json").read_text())
    assert manifest["content_ref"] == git(published, "rev-parse", "HEAD") and manifest["label"] == "manual"
    take_lesson(published, database_url, "console:local", "Reading a Stock Quote")
    more = xp(database_url, "console:local")
    assert more > earned

    restored = invoke("db", "restore", str(path), "--database", database_url)

    assert restored.exit_code == 0, restored.output
    assert "merged back what was earned after the snapshot" in restored.output
    assert xp(database_url, "console:local") == more
    listed = invoke("db", "snapshots")
    assert (
        "manual" in listed.output
        and "pre-restore" in listed.output
        and "2 snapshot(s) in var/snapshots" in listed.output
    )
    pruned = invoke("db", "snapshots", "--keep", "1")
    assert pruned.output.count("deleted ") == 1 and "1 snapshot(s)" in pruned.output


def test_upgrade_snapshots_first_and_runs_the_doctor(published: Path) -> None:
    url = f"sqlite:///{published / 'var' / 'fiml.db'}"
    migrations_api.upgrade(url, "0001")
    up = invoke("db", "upgrade", "--database", url)
    assert up.exit_code == 0, up.output
    assert "snapshot var/snapshots/" in up.output and "-0001-pre-upgrade.sqlite" in up.output
    assert (
        f"database at {migrations_api.head()}" in up.output
        and "running doctor after the upgrade" in up.output
        and "clean" in up.output
    )
    again = invoke("db", "upgrade", "--database", url)  # nothing to do: no snapshot
    assert "snapshot" not in again.output and again.exit_code == 0
    opted_out = invoke("db", "downgrade", "0001", "--no-snapshot", "--database", url)
    assert opted_out.exit_code == 0 and "snapshot" not in opted_out.output


def test_downgrade_refuses_to_drop_data_without_yes(published: Path) -> None:
    url = f"sqlite:///{published / 'var' / 'fiml.db'}"
    migrations_api.upgrade(url)
    take_lesson(published, url, "console:local", "What Is a Market?")
    refused = invoke("db", "downgrade", "base", "--database", url)
    assert refused.exit_code == 1
    assert (
        "downgrading to base would drop data: table badges (2 row(s)); table completions (1 row(s)); table learners (1 row(s))"
        in refused.output
    )
    assert "--yes" in refused.output and migrations_api.current(url) == migrations_api.head()
    assert not Path("var/snapshots").exists()
    done = invoke("db", "downgrade", "base", "--yes", "--database", url)
    assert done.exit_code == 0 and "pre-downgrade" in done.output and migrations_api.current(url) is None


def test_current_names_the_window(tmp_path: Path) -> None:
    from fiml_bot.storage import window

    url = f"sqlite:///{tmp_path / 'fiml.db'}"
    oldest = window.min_schema()  # 0001 while 0002 is the newest migration
    migrations_api.upgrade(url, oldest)
    shown = invoke("db", "current", "--database", url)
    assert (
        f"current: {oldest}" in shown.output
        and f"window: {window.code_window().describe()} (this code runs on these revisions)" in shown.output
    )
    if oldest != migrations_api.head():
        assert "inside this code's window" in shown.output


@BOTH
def test_rehearse_a_copy_and_find_no_loss(published: Path, database_url: str) -> None:
    migrations_api.upgrade(database_url, "0001")
    take_lesson(published, database_url, "console:local", "What Is a Market?")
    result = invoke("db", "rehearse", "--database", database_url)
    assert result.exit_code == 0, result.output
    for stage in (
        "copy                     0001",
        f"upgraded to {migrations_api.head()}",
        "after scripted session",
        "downgraded to 0001       0001",
    ):
        assert stage in result.output
    assert "passed: no learner lost XP or completions" in result.output
    assert migrations_api.current(database_url) == "0001"  # the real database was never touched


def test_rehearse_reports_a_loss(published: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A migration whose downgrade loses completions is caught: exit 1 and the learner named."""
    url = f"sqlite:///{published / 'var' / 'fiml.db'}"
    migrations_api.upgrade(url, "0001")
    take_lesson(published, url, "console:local", "What Is a Market?")
    real = migrations_api.downgrade

    def lossy(target_url: str, revision: str) -> None:
        real(target_url, revision)
        engine = make_engine(target_url)
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM completions"))
        engine.dispose()

    monkeypatch.setattr(migrations_api, "downgrade", lossy)
    result = invoke("db", "rehearse", "--database", url)
    assert result.exit_code == 1
    assert "LOSS: console:local: " in result.output and "FAILED: data would be lost" in result.output


def test_downgrade_names_a_dropped_column_that_holds_values(tmp_path: Path) -> None:
    from fiml_bot.storage.unit_of_work import open_storage
    from fiml_bot.tutor.model import Learner, LessonProgress

    url = f"sqlite:///{tmp_path / 'fiml.db'}"
    migrations_api.upgrade(url)
    with open_storage(url) as storage, storage() as uow:
        uow.progress.save_learner(Learner(id="telegram:1"))
        saved = uow.progress.save_progress(LessonProgress("telegram:1", "a", "1.0.0"))
        uow.progress.save_progress(
            LessonProgress("telegram:1", "a", "1.1.0", revision=saved.revision)
        )  # stamps migrated_at
        uow.commit()
    refused = invoke("db", "downgrade", "0001", "--no-snapshot", "--database", url)
    assert (
        refused.exit_code == 1
        and "would drop data: column lesson_progress.migrated_at (1 value(s))" in refused.output
    )
    assert migrations_api.current(url) == migrations_api.head()


def test_rehearse_a_snapshot_file(published: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fiml.db'}"
    migrations_api.upgrade(url, "0001")
    take_lesson(published, url, "console:local", "What Is a Market?")
    snap = invoke("db", "snapshot", "--database", url, "--out", str(tmp_path / "snaps"))
    result = invoke(
        "db", "rehearse", snap.output.split()[1], "--database", f"sqlite:///{tmp_path / 'unused.db'}"
    )
    assert result.exit_code == 0, result.output
    assert (
        "rehearsal of " in result.output
        and "downgraded to 0001" in result.output
        and "passed" in result.output
    )
    assert not (tmp_path / "unused.db").exists()


def test_an_unknown_revision_is_a_usage_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fiml.db'}"
    migrations_api.upgrade(url)
    for command in (["db", "downgrade", "zzz"], ["db", "upgrade", "zzz", "--no-snapshot"]):
        result = invoke(*command, "--database", url)
        assert result.exit_code == 2
        assert "revision 'zzz' is not a revision of this code (known revisions: 0001, 0002" in result.output


def test_a_failed_snapshot_stops_the_migration_and_names_the_way_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fiml_bot.ops import snapshots
    from fiml_bot.ops.errors import OpsError

    url = f"sqlite:///{tmp_path / 'fiml.db'}"
    migrations_api.upgrade(url, "0001")

    def broken(*args: object, **kwargs: object) -> None:
        raise OpsError("pg_dump was not found: install Debian's postgresql-client")

    monkeypatch.setattr(snapshots, "take", broken)
    result = invoke("db", "upgrade", "--database", url)
    assert (
        result.exit_code == 2
        and "nothing was migrated (to migrate without a snapshot, pass --no-snapshot)" in result.output
    )
    assert migrations_api.current(url) == "0001"
