"""`db upgrade REV` / `db downgrade REV` check REV before doing anything (issue 21 item 15): a typo
costs no snapshot; the `--help` example `fiml-bot db downgrade -1` works; relative steps count from the
database's own revision."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from fiml_bot.cli import app
from fiml_bot.storage import migrations_api

BOTH = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
pytestmark = pytest.mark.usefixtures("pg_tools")


def run(tmp_path: Path, content: Path, database: str, *args: str) -> object:
    result = CliRunner().invoke(
        app,
        [*args],
        env={
            "FIML_DATABASE_URL": database,
            "FIML_CONTENT_REPO": str(content),
            "FIML_SNAPSHOT_DIR": str(tmp_path / "snapshots"),
        },
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result


@BOTH
def test_an_unknown_revision_is_refused_before_the_snapshot(
    tmp_path: Path, git_repo: Path, database_url: str
) -> None:
    chain = migrations_api.chain()
    migrations_api.upgrade(database_url, chain[0])
    for bad in ("9999", "+99", "-1x", "--to-head"):
        result = run(tmp_path, git_repo, database_url, "db", "upgrade", bad)
        assert result.exit_code == 2, (bad, result.output)  # type: ignore[attr-defined]
        assert not (tmp_path / "snapshots").exists() or not any((tmp_path / "snapshots").iterdir())
    assert migrations_api.current(database_url) == chain[0]
    assert (
        "known revisions: " + ", ".join(chain)
        in run(  # type: ignore[attr-defined]
            tmp_path, git_repo, database_url, "db", "upgrade", "9999"
        ).output
    )

    result = run(tmp_path, git_repo, database_url, "db", "upgrade", "+1")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert migrations_api.current(database_url) == chain[1]
    assert any((tmp_path / "snapshots").iterdir())  # a real move snapshots first

    older = run(tmp_path, git_repo, database_url, "db", "upgrade", chain[0])
    assert older.exit_code == 1 and "db downgrade" in older.output  # type: ignore[attr-defined]


@BOTH
def test_the_downgrade_example_from_help_works(tmp_path: Path, git_repo: Path, database_url: str) -> None:
    chain = migrations_api.chain()
    migrations_api.upgrade(database_url, "head")
    result = run(tmp_path, git_repo, database_url, "db", "downgrade", "-1")  # the --help example, verbatim
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert migrations_api.current(database_url) == chain[-2]
    assert f"database at {chain[-2]}" in result.output  # type: ignore[attr-defined]

    refused = run(tmp_path, git_repo, database_url, "db", "downgrade", "+1")
    assert refused.exit_code == 1 and "db upgrade" in refused.output  # type: ignore[attr-defined]
    typo = run(tmp_path, git_repo, database_url, "db", "downgrade", "--yess")
    assert typo.exit_code == 2 and "No such option: --yess" in typo.output  # type: ignore[attr-defined]
    assert migrations_api.current(database_url) == chain[-2]
