"""The progress store's tables, as SQLAlchemy 2.0 typed declarative models.

These classes describe the schema (for Alembic's autogenerate comparison and for the repository's
queries); the tutor never sees them: `repository.py` maps rows to the frozen records of
`fiml_bot.tutor.model`. Types are portable (SQLite and PostgreSQL); timestamps are stored in UTC and
always read back as aware UTC datetimes (SQLite keeps no offset, so naive values are marked UTC).

Constraint names are explicit through the naming convention, so later migrations (and SQLite's
batch mode, which recreates tables) can refer to them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .timestamps import as_utc

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[dt.datetime]):
    """`DateTime(timezone=True)` that stores UTC and reads back aware UTC datetimes on every database."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        utc = as_utc(value)
        # SQLite's DATETIME text has no offset: write the UTC wall time.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class LearnerRow(Base):
    __tablename__ = "learners"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    time_zone: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean)
    streak_days: Mapped[int] = mapped_column(Integer)
    last_active_day: Mapped[dt.date | None] = mapped_column(Date)
    freeze_available: Mapped[bool] = mapped_column(Boolean)
    freeze_used_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    revision: Mapped[int] = mapped_column(Integer)


class LessonProgressRow(Base):
    __tablename__ = "lesson_progress"

    learner_id: Mapped[str] = mapped_column(Text, ForeignKey("learners.id"), primary_key=True)
    lesson_id: Mapped[str] = mapped_column(Text, primary_key=True)
    pinned_version: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    current_section: Mapped[str | None] = mapped_column(Text)
    sections_done: Mapped[list[str]] = mapped_column(JSON)
    answers: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{question_id, given, correct, version}]
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    completed_version: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    seen_version: Mapped[str | None] = mapped_column(Text)
    pending_choice: Mapped[str | None] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer)
    # 0002 (expand): when the version policy last moved `pinned_version`; absent on a 0001 database,
    # so the repository names it only when the schema has it (see `window.includes`).
    migrated_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class CompletionRow(Base):
    __tablename__ = "completions"
    __table_args__ = (Index(None, "learner_id", "lesson_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    learner_id: Mapped[str] = mapped_column(Text, ForeignKey("learners.id"))
    lesson_id: Mapped[str] = mapped_column(Text)
    version: Mapped[str] = mapped_column(Text)
    attempt: Mapped[int] = mapped_column(Integer)
    score: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    xp_earned: Mapped[int] = mapped_column(Integer)
    completed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class XpLedgerRow(Base):
    """Append-only: the code inserts rows and never updates or deletes one.

    The idempotency key is unique per learner, `(learner_id, key)`: a key names an event in one
    learner's history ("complete:lesson@1.2.0:attempt 1"), and two learners can never collide on it.
    That unique index leads with `learner_id`, so it is also the index for a learner's ledger.
    """

    __tablename__ = "xp_ledger"
    __table_args__ = (
        UniqueConstraint("learner_id", "key"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    learner_id: Mapped[str] = mapped_column(Text, ForeignKey("learners.id"))
    amount: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    key: Mapped[str] = mapped_column(Text)
    lesson_id: Mapped[str | None] = mapped_column(Text)
    version: Mapped[str | None] = mapped_column(Text)
    awarded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class BadgeRow(Base):
    __tablename__ = "badges"

    learner_id: Mapped[str] = mapped_column(Text, ForeignKey("learners.id"), primary_key=True)
    badge: Mapped[str] = mapped_column(Text, primary_key=True)
    awarded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class SchemaWindowRow(Base):
    """One row: the schema revision and the oldest code revision allowed on it (`storage/window.py`)."""

    __tablename__ = "schema_window"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    revision: Mapped[str] = mapped_column(Text)
    oldest_code: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class ProcessedEventRow(Base):
    """External events already applied (Telegram update ids), so each is processed at most once."""

    __tablename__ = "processed_events"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    processed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)  # pruned by age


class SendBudgetRow(Base):
    """The fleet's Telegram send budget when it lives in the database (`adapters/sql_budget.py`).

    One row per (bot token digest, slot): a token bucket's `tokens` at time `at` (seconds of the
    database's clock). Ephemeral: deleting every row only resets the buckets to full.
    """

    __tablename__ = "send_budget"

    budget: Mapped[str] = mapped_column(Text, primary_key=True)
    slot: Mapped[str] = mapped_column(Text, primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    at: Mapped[float] = mapped_column(Float)


class DatabaseIdentityRow(Base):
    """One row: this database's identity, a random id created once by migration 0006 and kept by
    `db restore`, so a snapshot's manifest can say which database it came from (`ops/identity.py`)."""

    __tablename__ = "database_identity"
    __table_args__ = (CheckConstraint("one = 1", name="one_row"),)

    one: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    id: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
