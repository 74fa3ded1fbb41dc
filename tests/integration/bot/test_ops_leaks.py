"""No secret or personal data leaks from the operator commands: a password never printed (one
redaction function for every URL), hostile URLs and names exit 2 naming the field, and what a killed
snapshot or rehearsal left (temp files, throwaway databases, temp folders) goes with the next one."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from fiml_bot.cli import app
from fiml_bot.storage import migrations_api
from fiml_bot.storage.database import describe, make_engine
from testing.ledger import earn
from testing.restore_kill import fiml_bot

BOTH = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
pytestmark = pytest.mark.usefixtures("pg_tools")
runner = CliRunner()
PASSWORD = "hunter2pw"


def invoke(*args: str) -> object:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def with_password(url: str) -> str:
    return make_url(url).set(password=PASSWORD).render_as_string(hide_password=False)


def test_rehearse_never_prints_the_password(postgres_url: str, published: Path) -> None:
    url = with_password(postgres_url)  # the test server trusts the user: the password is ignored
    migrations_api.upgrade(url)
    earn(url, "telegram:1", "lesson:a", 50, complete="a")
    result = invoke("db", "rehearse", url, "--database", url, "--content", str(published))
    assert result.exit_code == 0, result.output
    assert "rehearsal of postgresql+psycopg://postgres:***@" in result.output
    assert PASSWORD not in result.output
    assert PASSWORD not in describe(url)


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+psycopg://postgres:hun@{PASSWORD}@127.0.0.1:5432/test",  # an unescaped @
        f"postgresql://u:p@ss:{PASSWORD}@host:5432/db",  # @ and : in the password
        "postgresql://u:pw@host:notaport/db",
        f"sqlite:///var/x\x00{PASSWORD}.db",
    ],
)
def test_a_hostile_database_url_exits_2_naming_the_field_and_nothing_of_it(url: str) -> None:
    for command in (["db", "current"], ["db", "snapshot"], ["doctor"], ["db", "rehearse"]):
        result = invoke(*command, "--database", url)
        assert result.exit_code == 2, (command, result.output)
        assert "the database URL (--database or FIML_DATABASE_URL)" in result.output
        assert PASSWORD not in result.output and "notaport" not in result.output
        assert "Traceback" not in result.output


def exported(url: str, tmp_path: Path) -> dict[str, object]:
    migrations_api.upgrade(url)
    earn(url, "telegram:1", "lesson:what_is_a_market", 50, complete="what_is_a_market")
    out = tmp_path / "carol.json"
    assert invoke("progress", "export", "telegram:1", str(out), "--database", url).exit_code == 0
    return json.loads(out.read_text())


@BOTH
@pytest.mark.parametrize("name", ["Car\x00ol", "Car\ud800ol"], ids=["nul", "lone surrogate"])
def test_an_unstorable_name_exits_2_naming_the_field(database_url: str, tmp_path: Path, name: str) -> None:
    document = exported(database_url, tmp_path)
    document["user_id"] = "telegram:2"
    document.setdefault("profile", {})["name"] = name  # type: ignore[union-attr]
    hostile = tmp_path / "hostile.json"
    hostile.write_text(json.dumps(document))  # ensure_ascii: \u0000 and \ud800 escapes, valid JSON
    result = invoke("progress", "import", str(hostile), "--database", database_url)
    assert result.exit_code == 2, result.output
    assert "$.profile.name" in result.output and "nothing was written" in result.output
    assert "INSERT" not in result.output and "telegram:1" not in result.output
    chat = invoke("chat", "--database", database_url, "--user", "Dave\udcff")  # argv bytes, not UTF-8
    assert chat.exit_code == 2 and "--user" in chat.output, chat.output


def test_a_killed_rehearsal_leaves_nothing_after_the_next(postgres_url: str, published: Path) -> None:
    migrations_api.upgrade(postgres_url)
    earn(postgres_url, "telegram:1", "lesson:a", 50, complete="a")
    folders = {p.name for p in Path(tempfile.gettempdir()).glob("fiml-rehearse-*")}

    killed = fiml_bot(
        "db", "rehearse", "--database", postgres_url, cwd=published, env={"FIML_KILL_AT": "rehearse:copied"}
    )
    assert killed.returncode == -9, killed.stderr
    left = throwaway_databases(postgres_url)
    assert left, "the kill should have left the rehearsal's database"
    new_folders = {p.name for p in Path(tempfile.gettempdir()).glob("fiml-rehearse-*")} - folders
    assert new_folders

    again = fiml_bot("db", "rehearse", "--database", postgres_url, cwd=published)
    assert again.returncode == 0, again.stderr
    assert not set(left) & set(throwaway_databases(postgres_url))
    assert not new_folders & {p.name for p in Path(tempfile.gettempdir()).glob("fiml-rehearse-*")}


def throwaway_databases(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return [
                str(name)
                for (name,) in connection.execute(
                    text("SELECT datname FROM pg_database WHERE datname LIKE 'fiml\\_rehearse\\_%'")
                )
            ]
    finally:
        engine.dispose()
