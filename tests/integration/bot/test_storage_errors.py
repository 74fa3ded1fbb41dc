"""A locked, missing or unreachable database is a clear `StorageUnavailable`, never a driver traceback."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import exc, text

from fiml_bot.storage import migrations_api
from fiml_bot.storage.database import make_engine, translate_error
from fiml_bot.storage.unit_of_work import Storage, open_storage
from fiml_bot.tutor.model import Learner
from fiml_bot.tutor.ports import ConcurrentUpdate, StorageUnavailable

UNREACHABLE = "postgresql://fiml:s3cret-pass@127.0.0.1:1/fiml"


def sqlite_file(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


@pytest.fixture
def migrated_sqlite(sqlite_url: str) -> str:
    migrations_api.upgrade(sqlite_url)
    return sqlite_url


@pytest.fixture
def locked(migrated_sqlite: str):
    """Another connection holding the SQLite write lock (BEGIN EXCLUSIVE) for the test's duration."""
    other = sqlite3.connect(sqlite_file(migrated_sqlite), isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    other.execute("INSERT INTO processed_events VALUES ('held', '2026-01-01 00:00:00')")
    yield other
    other.execute("ROLLBACK")
    other.close()


def test_a_locked_sqlite_database_is_unavailable_then_recovers(migrated_sqlite: str, request) -> None:
    with open_storage(migrated_sqlite, busy_timeout=0.2) as storage:
        with storage.engine.connect() as connection:  # gives up after 200 ms, never waits unbounded
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 200
        other = request.getfixturevalue("locked")
        with (
            pytest.raises(StorageUnavailable, match="is unavailable: database is locked") as raised,
            storage() as uow,
        ):
            uow.progress.learner("telegram:1")
        assert isinstance(raised.value.__cause__, exc.OperationalError)
        with pytest.raises(StorageUnavailable, match="locked"), storage() as uow:
            uow.progress.save_learner(Learner(id="telegram:1"))
        other.execute("ROLLBACK")
        other.execute("BEGIN")  # the fixture's teardown rolls back again
        with storage() as uow:  # the lock is gone: the same storage works again
            uow.progress.save_learner(Learner(id="telegram:1"))
            uow.commit()
        with storage() as uow:
            assert uow.progress.learner_ids() == ["telegram:1"]


def test_opening_a_locked_database_is_unavailable(migrated_sqlite: str, locked) -> None:
    with pytest.raises(StorageUnavailable, match="locked"):
        open_storage(migrated_sqlite, busy_timeout=0.1)


def test_a_failing_commit_is_unavailable(migrated_sqlite: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with open_storage(migrated_sqlite) as storage, storage() as uow:
        uow.progress.save_learner(Learner(id="telegram:1"))

        def locked_commit() -> None:
            raise exc.OperationalError("COMMIT", {}, sqlite3.OperationalError("database is locked"))

        monkeypatch.setattr(uow._connection, "commit", locked_commit)
        with pytest.raises(StorageUnavailable, match="database is locked"):
            uow.commit()


def test_a_database_file_in_a_missing_folder_is_unavailable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gone' / 'fiml.db'}"
    storage = Storage(make_engine(url))
    try:
        with pytest.raises(StorageUnavailable, match="unable to open database file"), storage() as uow:
            uow.progress.learner_ids()
    finally:
        storage.close()


def test_a_database_without_tables_is_unavailable_with_the_fix(sqlite_url: str) -> None:
    sqlite_file(sqlite_url).parent.mkdir()
    storage = Storage(make_engine(sqlite_url))  # skips open_storage's schema check
    try:
        with (
            pytest.raises(StorageUnavailable, match=r"no progress tables .*run `fiml-bot db upgrade`"),
            storage() as uow,
        ):
            uow.progress.learner("telegram:1")
    finally:
        storage.close()


def test_an_unreachable_postgresql_is_unavailable_without_its_password() -> None:
    for attempt in (
        lambda: open_storage(UNREACHABLE),
        lambda: migrations_api.upgrade(UNREACHABLE),
        lambda: migrations_api.current(UNREACHABLE),
    ):
        with pytest.raises(StorageUnavailable) as raised:
            attempt()
        message = str(raised.value)
        assert "127.0.0.1" in message and "is unavailable" in message
        assert "s3cret-pass" not in message


def test_a_dropped_postgresql_connection_is_unavailable_then_recovers(postgres_url: str) -> None:
    migrations_api.upgrade(postgres_url)
    admin = make_engine(postgres_url)
    try:
        with open_storage(postgres_url) as storage:
            with storage() as uow:
                uow.progress.save_learner(Learner(id="telegram:1"))
                pid = uow.progress._connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
                with admin.begin() as connection:
                    connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                with pytest.raises(StorageUnavailable):
                    uow.progress.learner_ids()
            with storage() as uow:  # the pool dropped the dead connection
                assert uow.progress.learner_ids() == []
    finally:
        admin.dispose()


class _Orig(Exception):
    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("sqlstate", "expected"),
    [
        ("40001", ConcurrentUpdate),
        ("40P01", ConcurrentUpdate),
        ("42P01", StorageUnavailable),
        ("23505", type(None)),
    ],
)
def test_driver_errors_map_to_the_ports_exceptions(sqlstate: str, expected: type) -> None:
    error = exc.DBAPIError("SELECT 1", {}, _Orig("could not serialize access", sqlstate))
    assert isinstance(translate_error(error, "db"), expected)
