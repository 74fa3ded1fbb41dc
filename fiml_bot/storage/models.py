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


class LearnerReportRow(Base):
    """A learner's report of a problem in a section or question (0007); `words` NULL: still pending."""

    __tablename__ = "learner_reports"
    __table_args__ = (Index(None, "lesson_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    learner_id: Mapped[str] = mapped_column(Text, ForeignKey("learners.id"), index=True)
    lesson_id: Mapped[str] = mapped_column(Text)
    version: Mapped[str] = mapped_column(Text)
    section_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    question_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    words: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class QuizFirstAnswerRow(Base):
    """0007: a learner's first answer to a question of a lesson version. No longer written (0010 moved
    first answers into `quiz_answers`); dropped by a later contract migration."""

    __tablename__ = "quiz_first_answers"
    # Covering the canary watcher's per-question counts: read from the index alone, in group order.
    __table_args__ = (Index(None, "lesson_id", "version", "question_id", "correct"),)

    learner_id: Mapped[str] = mapped_column(Text, ForeignKey("learners.id"), primary_key=True)
    lesson_id: Mapped[str] = mapped_column(Text, primary_key=True)
    version: Mapped[str] = mapped_column(Text, primary_key=True)
    question_id: Mapped[str] = mapped_column(Text, primary_key=True)
    correct: Mapped[bool] = mapped_column(Boolean)
    answered_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class QuizAnswerRow(Base):
    """0009 (expand): every quiz answer, per attempt, as it was marked (re-scoring reads them)."""

    __tablename__ = "quiz_answers"
    __table_args__ = (Index(None, "lesson_id", "question_id"),)

    learner_id: Mapped[str] = mapped_column(Text, ForeignKey("learners.id"), primary_key=True)
    lesson_id: Mapped[str] = mapped_column(Text, primary_key=True)
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True)
    question_id: Mapped[str] = mapped_column(Text, primary_key=True)
    version: Mapped[str] = mapped_column(Text)
    given: Mapped[str] = mapped_column(Text)
    correct: Mapped[bool] = mapped_column(Boolean)
    answered_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class ProviderKeyRow(Base):
    """A learner's own data-provider key (issue 25), Fernet-encrypted (`fiml_bot/keys/`).

    Only `ciphertext` holds the key; `last4` is what /listkeys shows. `used_today` counts the calls made
    with the key on `used_on` (a UTC day): the quota /listkeys reports.
    """

    __tablename__ = "provider_keys"

    learner_id: Mapped[str] = mapped_column(Text, primary_key=True)
    provider: Mapped[str] = mapped_column(Text, primary_key=True)
    ciphertext: Mapped[str] = mapped_column(Text)
    last4: Mapped[str] = mapped_column(Text)
    added_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    used_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    used_today: Mapped[int] = mapped_column(Integer, default=0)


class ScheduledMessageRow(Base):
    """0009 (expand): messages the bot starts, each sent once (`sent_at` set by the sending transaction)."""

    __tablename__ = "scheduled_messages"
    __table_args__ = (Index(None, "due_at"),)

    learner_id: Mapped[str] = mapped_column(Text, ForeignKey("learners.id"), primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    due_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class LearnerSettingsRow(Base):
    """0009 (expand): which messages the bot may start for a learner (`/settings`); no row: all on."""

    __tablename__ = "learner_settings"

    learner_id: Mapped[str] = mapped_column(Text, ForeignKey("learners.id"), primary_key=True)
    reminders: Mapped[bool] = mapped_column(Boolean)
    reviews: Mapped[bool] = mapped_column(Boolean)
    announcements: Mapped[bool] = mapped_column(Boolean)
    update_notices: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class DatabaseIdentityRow(Base):
    """One row: this database's identity, a random id created once by migration 0006 and kept by
    `db restore`, so a snapshot's manifest can say which database it came from (`ops/identity.py`)."""

    __tablename__ = "database_identity"
    __table_args__ = (CheckConstraint("one = 1", name="one_row"),)

    one: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    id: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
