"""`doctor --against SNAPSHOT`: a database that lost XP or completions consistently looks clean to the
other checks; against an earlier snapshot of the same database each such learner is a problem."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from fiml_bot.cli import app
from fiml_bot.ops import snapshots
from fiml_bot.storage import migrations_api
from fiml_bot.storage.database import make_engine
from testing.ledger import earn

BOTH = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
pytestmark = pytest.mark.usefixtures("pg_tools")
runner = CliRunner()


def invoke(*args: str) -> object:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def execute(url: str, sql: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(sql))
    finally:
        engine.dispose()


@BOTH
def test_doctor_against_a_snapshot_reports_who_lost_xp(database_url: str, tmp_path: Path) -> None:
    migrations_api.upgrade(database_url)
    for n in range(3):
        earn(database_url, f"telegram:{n}", "lesson:a", 50, complete="a")
    manifest = snapshots.take(database_url, folder=tmp_path / "snaps")
    earn(database_url, "telegram:0", "lesson:b", 20, complete="b")  # more since: fine
    execute(database_url, "DELETE FROM badges WHERE learner_id = 'telegram:1'")
    execute(database_url, "DELETE FROM completions WHERE learner_id = 'telegram:1'")
    execute(database_url, "DELETE FROM xp_ledger WHERE learner_id = 'telegram:1'")  # consistent, but lost

    plain = invoke("doctor", "--database", database_url)
    assert plain.exit_code == 0, plain.output  # the database alone looks clean
    against = invoke("doctor", "--database", database_url, "--against", str(manifest.path))
    assert against.exit_code == 1, against.output
    assert "telegram:1" in against.output and "0 XP" in against.output and "held 50 XP" in against.output
    assert "telegram:0" not in against.output and "telegram:2" not in against.output


def test_doctor_against_another_databases_snapshot_cannot_run(sqlite_url: str, tmp_path: Path) -> None:
    migrations_api.upgrade(sqlite_url)
    other = f"sqlite:///{tmp_path / 'other.db'}"
    migrations_api.upgrade(other)
    earn(other, "telegram:9", "lesson:a", 50, complete="a")
    manifest = snapshots.take(other, folder=tmp_path / "snaps")
    result = invoke("doctor", "--database", sqlite_url, "--against", str(manifest.path))
    assert result.exit_code == 2 and "another database" in result.output, result.output
