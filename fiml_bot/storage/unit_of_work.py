"""The SQL unit of work and `open_storage`, which wires it to a database.

One unit of work is one transaction (one learner action): `__enter__` opens a connection and begins,
`commit()` makes everything visible at once, and `__exit__` rolls back whatever was not committed.
Its queries are the progress repository's (`repository.py`); opening, committing and rolling back
translate driver errors as the repository does (`database.storage_errors`): a lost connection or a
missing schema is `StorageUnavailable`, never a driver traceback.

SQLite has one writer at a time, and every transaction here starts with `BEGIN IMMEDIATE`. Units of
work of one process on one SQLite file therefore queue on an in-process lock first: a waiting thread
wakes as soon as the lock is free, where SQLite's busy handler would poll it with sleeps of up to
100 ms. Other processes' writers are waited for by trying the lock every `database.LOCK_POLL`.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import threading
import time
from typing import Self

from sqlalchemy import Engine, exc
from sqlalchemy.engine import Connection

from fiml_bot.tutor.ports import ProgressRepository, StorageUnavailable

from . import reports, window
from .database import (
    DEFAULT_BUSY_TIMEOUT,
    UPGRADE_HINT,
    describe,
    make_engine,
    sqlite_path,
    storage_errors,
)
from .facts import Snapshot
from .migrations_api import check_schema, current, known_revisions, upgrade
from .repository import SqlProgressRepository

__all__ = ["SqlProgressRepository", "SqlUnitOfWork", "Storage", "open_storage"]

log = logging.getLogger(__name__)

PRUNE_PAUSE = 0.005  # seconds between two pruning batches


class SqlUnitOfWork:
    """`UnitOfWork` on one connection: `with uow: ...; uow.commit()`.

    After `commit()` the same unit of work may go on: the next statement starts a new transaction.
    """

    progress: ProgressRepository

    def __init__(
        self,
        engine: Engine,
        where: str,
        writer_lock: _WriterLock | None = None,
        stamps_migrations: bool = False,
        *,
        read_only: bool = False,
        has_reports: bool = True,
        keeps_answers: bool = False,
    ) -> None:
        self._engine = engine
        self._where = where
        self._writer_lock = writer_lock
        self._stamps_migrations = stamps_migrations
        self._read_only = read_only
        self._has_reports = has_reports
        self._keeps_answers = keeps_answers  # the schema has 0009's quiz_answers and scheduled_messages
        self._connection: Connection | None = None

    def __enter__(self) -> Self:
        if self._writer_lock is not None:
            self._writer_lock.acquire(self._where)
        try:
            with storage_errors(self._where):
                connection = self._engine.connect()
                try:
                    if self._read_only:
                        connection = connection.execution_options(**reports.read_only_options(self._engine))
                    connection.begin()
                except BaseException:
                    connection.close()
                    raise
        except BaseException:
            if self._writer_lock is not None:
                self._writer_lock.release()
            raise
        self._connection = connection
        self._repository = SqlProgressRepository(
            connection, self._stamps_migrations, self._has_reports, self._keeps_answers
        )
        self.progress = self._repository
        return self

    def __exit__(self, *exc_info: object) -> None:
        connection = self._connection
        if connection is None:
            return
        self._connection = None
        try:
            connection.rollback()
        except exc.SQLAlchemyError as error:  # the connection is gone: nothing uncommitted survives it
            log.warning("rollback failed on %s: %s", self._where, error)
        finally:
            try:
                connection.close()
            finally:
                if self._writer_lock is not None:
                    self._writer_lock.release()

    def commit(self) -> None:
        with storage_errors(self._where):
            self._active().commit()
        self._repository.forget()

    def rollback(self) -> None:
        with storage_errors(self._where):
            self._active().rollback()
        self._repository.forget()

    def _active(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("the unit of work is used outside its `with` block")
        return self._connection


class _WriterLock:
    """One SQLite writer per process at a time, waited for without polling (see the module docstring).

    Re-entrant, so a unit of work nested in another on the same thread meets SQLite's own lock (and
    its busy timeout) as before instead of hanging here.
    """

    def __init__(self, timeout: float) -> None:
        self._lock = threading.RLock()
        self._timeout = timeout

    def acquire(self, where: str) -> None:
        if not self._lock.acquire(timeout=self._timeout):
            raise StorageUnavailable(
                f"the database at {where} is unavailable: database is locked (waited {self._timeout:g} s)"
            )

    def release(self) -> None:
        self._lock.release()


class Storage:
    """The unit-of-work factory for one database: `with storage() as uow: ...`.

    Holds the engine (and its connection pool) for the life of the process; `close()` releases it.
    """

    def __init__(
        self, engine: Engine, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT, revision: str | None = None
    ) -> None:
        self.engine = engine
        self.where = describe(engine.url)
        self.revision = revision  # the schema revision found when the store was opened
        self._writer_lock = _WriterLock(busy_timeout) if engine.dialect.name == "sqlite" else None
        self._stamps_migrations = window.includes(revision, "0002")
        self._has_reports = revision is None or window.includes(revision, "0007")
        self._keeps_answers = window.includes(revision, "0009")

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(
            self.engine,
            self.where,
            self._writer_lock,
            self._stamps_migrations,
            has_reports=self._has_reports,
            keeps_answers=self._keeps_answers,
        )

    def schema_revision(self) -> str | None:
        """The schema revision found when the store was opened (what /readyz reports)."""
        return self.revision

    def reader(self) -> SqlUnitOfWork:
        """A read-only unit of work: one consistent view for reading many learners, no write lock taken."""
        return SqlUnitOfWork(
            self.engine,
            self.where,
            None,
            self._stamps_migrations,
            read_only=True,
            has_reports=self._has_reports,
            keeps_answers=self._keeps_answers,
        )

    def snapshot(self) -> contextlib.AbstractContextManager[Snapshot]:
        """A read-only, consistent view for reports over all learners; never blocks the bot's writes."""
        return reports.sql_snapshot(self.engine, self.where)

    def prune_events(self, before: datetime.datetime, prefix: str, batch: int = reports.PRUNE_BATCH) -> int:
        """Forget processed event keys starting with `prefix` older than `before`, one short transaction per batch."""
        total = 0
        while True:
            if self._writer_lock is not None:
                self._writer_lock.acquire(self.where)
            try:
                with storage_errors(self.where), self.engine.begin() as connection:
                    deleted = reports.prune_batch(connection, before, prefix, batch)
            finally:
                if self._writer_lock is not None:
                    self._writer_lock.release()
            total += deleted
            if deleted < batch:
                return total
            time.sleep(PRUNE_PAUSE)  # the writer lock is not fair: let a waiting action in between batches

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_storage(
    url: str,
    *,
    auto_upgrade: bool = False,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
) -> Storage:
    """Connect to the database at `url` and check that its schema is inside this code's window.

    Without `auto_upgrade` a missing SQLite file or an old schema is refused with `StorageUnavailable`
    (`SchemaOutOfDate`) telling the operator to run `fiml-bot db upgrade`; with it (the terminal chat,
    the SQLite default) the schema is created or upgraded first. A schema newer than this code is
    refused either way.
    """
    where = describe(url)
    if auto_upgrade:
        if current(url) in known_revisions() | {None}:
            upgrade(url)
    else:
        path = sqlite_path(url)
        if path is not None and not path.exists():
            raise StorageUnavailable(f"the database file {path} does not exist: {UPGRADE_HINT} to create it")
    engine = make_engine(url, busy_timeout=busy_timeout)
    try:
        with storage_errors(where), engine.connect() as connection:
            revision = check_schema(connection, where)
    except BaseException:
        engine.dispose()
        raise
    return Storage(engine, busy_timeout=busy_timeout, revision=revision)
