"""Reads over all learners (notify's selection, reports) and the pruning of old update ids.

A report over 100,000 learners must never hold the write lock the bot's actions need, so it runs in
a read-only snapshot: on SQLite a deferred `BEGIN` (WAL readers never block the writer, and the
writer never blocks them), on PostgreSQL a `REPEATABLE READ READ ONLY` transaction; and it is one
set-based query, streamed, instead of statements per learner.

Pruning deletes processed update ids older than the retention window in small batches, each its
own short write transaction, so a bot action waits at most for one batch.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from sqlalchemy import Engine, Table, Text, delete, select, type_coerce

from fiml_bot.tutor.model import Learner

from .database import storage_errors
from .facts import ProgressFact
from .models import LearnerRow, LessonProgressRow, ProcessedEventRow

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

LEARNERS: Table = LearnerRow.__table__  # type: ignore[assignment]
PROGRESS: Table = LessonProgressRow.__table__  # type: ignore[assignment]
PROCESSED: Table = ProcessedEventRow.__table__  # type: ignore[assignment]

READ_ONLY = (
    "fiml_read_only"  # execution option: `database._configure_sqlite` then begins a deferred transaction
)
STREAM_ROWS = 5000
PRUNE_BATCH = 500  # a bot action waits for at most one batch (a few ms)


class SqlSnapshot:
    def __init__(self, connection: Connection, where: str) -> None:
        self._connection = connection
        self._where = where

    def progress_on(self, lesson_ids: Iterable[str], learner_prefix: str = "") -> Iterator[ProgressFact]:
        ids = sorted(set(lesson_ids))
        if not ids:
            return
        statement = (
            select(
                PROGRESS.c.learner_id,
                PROGRESS.c.lesson_id,
                PROGRESS.c.status,
                PROGRESS.c.pinned_version,
                PROGRESS.c.completed_version,
                PROGRESS.c.seen_version,
            )
            .join(LEARNERS, LEARNERS.c.id == PROGRESS.c.learner_id)
            .where(LEARNERS.c.active.is_(True), PROGRESS.c.lesson_id.in_(ids))
            .order_by(PROGRESS.c.learner_id, PROGRESS.c.lesson_id)
        )
        if learner_prefix:
            statement = statement.where(LEARNERS.c.id.startswith(learner_prefix, autoescape=True))
        with storage_errors(self._where):
            result = self._connection.execution_options(yield_per=STREAM_ROWS).execute(statement)
            for row in result:
                yield ProgressFact(*row)

    def streaks(self, learner_prefix: str = "") -> Iterator[Learner]:
        c = LEARNERS.c
        # SQLite keeps dates as text: read as text and parsed here (C), not by SQLAlchemy's processor.
        day = (
            (lambda column: type_coerce(column, Text))
            if self._connection.dialect.name == "sqlite"
            else (lambda column: column)
        )
        statement = (
            select(
                c.id,
                c.time_zone,
                c.streak_days,
                day(c.last_active_day),
                c.freeze_available,
                day(c.freeze_used_on),
            )
            .where(LEARNERS.c.active.is_(True), LEARNERS.c.streak_days > 0)
            .order_by(LEARNERS.c.id)
        )
        if learner_prefix:
            statement = statement.where(LEARNERS.c.id.startswith(learner_prefix, autoescape=True))
        with storage_errors(self._where):
            result = self._connection.execution_options(yield_per=STREAM_ROWS).execute(statement)
            for id_, zone, streak, last, freeze, used in result:
                yield Learner(id_, "", zone, True, streak, _day(last), bool(freeze), _day(used))


def _day(value: dt.date | str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def read_only_options(engine: Engine) -> dict[str, object]:
    """Execution options for a read-only transaction that sees one state and takes no write lock."""
    options: dict[str, object] = {READ_ONLY: True}
    if engine.dialect.name == "postgresql":
        options.update(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    return options


@contextlib.contextmanager
def read_only_connection(engine: Engine, where: str) -> Iterator[Connection]:
    """A connection in a read-only transaction that sees one consistent state and takes no write lock;
    rolled back and closed afterwards."""
    with storage_errors(where):
        connection = engine.connect()
    try:
        connection = connection.execution_options(**read_only_options(engine))
        with storage_errors(where):
            connection.begin()
        yield connection
    finally:
        try:
            connection.rollback()
        finally:
            connection.close()


@contextlib.contextmanager
def sql_snapshot(engine: Engine, where: str) -> Iterator[SqlSnapshot]:
    """A read-only transaction that sees one consistent state and takes no write lock."""
    with read_only_connection(engine, where) as connection:
        yield SqlSnapshot(connection, where)


def prune_batch(connection: Connection, before: dt.datetime, prefix: str, batch: int = PRUNE_BATCH) -> int:
    """Delete up to `batch` of the oldest keys that start with `prefix` and were processed before
    `before`; the number deleted (fewer than `batch`: nothing older is left)."""
    oldest = (
        select(PROCESSED.c.key)
        .where(PROCESSED.c.processed_at < before, PROCESSED.c.key.startswith(prefix, autoescape=True))
        .order_by(PROCESSED.c.processed_at)
        .limit(batch)
    )
    return connection.execute(delete(PROCESSED).where(PROCESSED.c.key.in_(oldest.scalar_subquery()))).rowcount
