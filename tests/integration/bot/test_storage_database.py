"""Database URLs and engines: the default, PostgreSQL routed to psycopg 3, SQLite's settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from fiml_bot.storage.database import (
    DEFAULT_URL,
    database_url,
    describe,
    make_engine,
    parse_url,
    sqlite_path,
)
from fiml_bot.storage.errors import DatabaseUrlError


def test_the_url_comes_from_the_environment_or_defaults_to_sqlite() -> None:
    assert DEFAULT_URL == "sqlite:///var/fiml.db"
    assert database_url({}) == DEFAULT_URL
    assert database_url({"FIML_DATABASE_URL": "  "}) == DEFAULT_URL
    assert database_url({"FIML_DATABASE_URL": " postgres://bot@db/fiml\n"}) == "postgres://bot@db/fiml"
    assert sqlite_path(DEFAULT_URL) == Path("var/fiml.db")


@pytest.mark.parametrize(
    "url",
    [
        "postgres://bot:pw@db:5433/fiml",
        "postgresql://bot:pw@db:5433/fiml",
        "postgresql+psycopg://bot:pw@db:5433/fiml",
    ],
)
def test_postgresql_urls_use_psycopg_3(url: str) -> None:
    parsed = parse_url(url)
    assert parsed.drivername == "postgresql+psycopg"
    assert (parsed.username, parsed.password, parsed.host, parsed.port, parsed.database) == (
        "bot",
        "pw",
        "db",
        5433,
        "fiml",
    )
    assert make_engine(url).dialect.driver == "psycopg"  # no connection is made


@pytest.mark.parametrize(
    "url", ["mysql://root@localhost/fiml", "postgresql+psycopg2://u@h/d", "not a url", ""]
)
def test_other_databases_and_garbage_are_refused(url: str) -> None:
    with pytest.raises(DatabaseUrlError):
        parse_url(url)


def test_messages_never_show_a_password() -> None:
    assert describe("postgresql://bot:hunter2@db/fiml") == "postgresql://bot:***@db/fiml"


def test_sqlite_connections_are_configured(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fiml.db'}", busy_timeout=1.5)
    try:
        with engine.connect() as connection:
            settings = {
                name: connection.execute(text(f"PRAGMA {name}")).scalar_one()
                for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
            }
    finally:
        engine.dispose()
    assert settings == {"journal_mode": "wal", "busy_timeout": 1500, "foreign_keys": 1, "synchronous": 1}


def test_importing_the_storage_creates_nothing(tmp_path: Path) -> None:
    """No engine, connection or file at import time; the in-memory store does not even load SQLAlchemy."""
    script = """
import gc, sys
import fiml_bot.storage.memory
assert "sqlalchemy" not in sys.modules, "memory imported SQLAlchemy"
import fiml_bot.storage.unit_of_work, fiml_bot.storage.migrations_api
from fiml_bot.storage import open_storage
from sqlalchemy import Engine
assert not [o for o in gc.get_objects() if isinstance(o, Engine)], "an engine exists"
"""
    subprocess.run([sys.executable, "-c", script], cwd=tmp_path, check=True)
    assert list(tmp_path.iterdir()) == []
