"""The SQL progress repository: the tutor's frozen records to rows and back, on one connection.

`SqlProgressRepository` runs the queries of one unit of work (see `unit_of_work.py`, which owns the
connection and the transaction). Its guarantees:

- learners and lesson progress carry a `revision`: revision 0 inserts, any other revision updates
  `WHERE revision = :old` and raises `ConcurrentUpdate` when another transaction got there first;
- ledger rows, badges and processed events are inserted with `ON CONFLICT DO NOTHING`, so a repeated
  or concurrent award returns False and the surrounding transaction carries on;
- driver errors are translated by `database.storage_errors` (lost connections, lock timeouts and a
  missing schema raise `StorageUnavailable`, never a driver traceback; PostgreSQL serialization
  failures and deadlocks raise `ConcurrentUpdate`).

Queries are Core statements on the models' tables, built once at import (no connection is made), run
on a plain `Connection`: no ORM session, no identity map that could hold a stale revision, and none of
a session's per-statement overhead.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import (
    Executable,
    Table,
    bindparam,
    case,
    delete,
    exc,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, CursorResult, Row
from sqlalchemy.sql.dml import Insert

from fiml_bot.tutor.model import (
    BadgeAward,
    Completion,
    Learner,
    LearnerReport,
    LessonProgress,
    MessageSettings,
    Notice,
    QuizAnswer,
    StoredAnswer,
    XpAward,
)
from fiml_bot.tutor.ports import ConcurrentUpdate, StorageUnavailable

from .database import UPGRADE_HINT, describe, storage_errors
from .errors import UnknownLearner
from .models import (
    BadgeRow,
    CompletionRow,
    LearnerReportRow,
    LearnerRow,
    LearnerSettingsRow,
    LessonProgressRow,
    ProcessedEventRow,
    QuizAnswerRow,
    ScheduledMessageRow,
    XpLedgerRow,
)
from .timestamps import utc_now

LEARNERS: Table = LearnerRow.__table__  # type: ignore[assignment]
PROGRESS: Table = LessonProgressRow.__table__  # type: ignore[assignment]
COMPLETIONS: Table = CompletionRow.__table__  # type: ignore[assignment]
XP_LEDGER: Table = XpLedgerRow.__table__  # type: ignore[assignment]
BADGES: Table = BadgeRow.__table__  # type: ignore[assignment]
PROCESSED: Table = ProcessedEventRow.__table__  # type: ignore[assignment]
REPORTS: Table = LearnerReportRow.__table__  # type: ignore[assignment]
ANSWERS: Table = QuizAnswerRow.__table__  # type: ignore[assignment]
SCHEDULED: Table = ScheduledMessageRow.__table__  # type: ignore[assignment]
SETTINGS: Table = LearnerSettingsRow.__table__  # type: ignore[assignment]

P = ParamSpec("P")
R = TypeVar("R")

# Statements are built once, with bound parameters, so each execution skips construction and reuses
# the compiled form. WHERE parameters are prefixed `b_` (unprefixed names are the SET/VALUES columns).
_b = bindparam
SELECT_LEARNER = select(LEARNERS).where(LEARNERS.c.id == _b("b_id"))
UPDATE_LEARNER = update(LEARNERS).where(
    (LEARNERS.c.id == _b("b_id")) & (LEARNERS.c.revision == _b("b_revision"))
)
LEARNER_IDS = select(LEARNERS.c.id).order_by(LEARNERS.c.id)
_PROGRESS_KEY = (PROGRESS.c.learner_id == _b("b_learner_id")) & (PROGRESS.c.lesson_id == _b("b_lesson_id"))
_PROGRESS_REVISION = _PROGRESS_KEY & (PROGRESS.c.revision == _b("b_revision"))
# The columns every schema in the window has (0002's `migrated_at` is only written, when present).
_PROGRESS_COLUMNS = [column for column in PROGRESS.c if column.name != "migrated_at"]
SELECT_PROGRESS = select(*_PROGRESS_COLUMNS).where(_PROGRESS_KEY)
ALL_PROGRESS = (
    select(*_PROGRESS_COLUMNS)
    .where(PROGRESS.c.learner_id == _b("b_learner_id"))
    .order_by(PROGRESS.c.lesson_id)
)
UPDATE_PROGRESS = update(PROGRESS).where(_PROGRESS_REVISION)
# From 0002: the same update, stamping `migrated_at` when the pinned version moves.
UPDATE_PROGRESS_STAMPED = UPDATE_PROGRESS.values(
    migrated_at=case((PROGRESS.c.pinned_version != _b("b_pinned"), _b("b_now")), else_=PROGRESS.c.migrated_at)
)
DELETE_PROGRESS = delete(PROGRESS).where(_PROGRESS_REVISION)
RENAME_COMPLETIONS = update(COMPLETIONS).where(
    (COMPLETIONS.c.learner_id == _b("b_learner_id")) & (COMPLETIONS.c.lesson_id == _b("b_lesson_id"))
)
INSERT_COMPLETION = COMPLETIONS.insert()
_BY_COMPLETION_TIME = (COMPLETIONS.c.completed_at, COMPLETIONS.c.id)
ALL_COMPLETIONS = (
    select(COMPLETIONS).where(COMPLETIONS.c.learner_id == _b("b_learner_id")).order_by(*_BY_COMPLETION_TIME)
)
LESSON_COMPLETIONS = (
    select(COMPLETIONS)
    .where((COMPLETIONS.c.learner_id == _b("b_learner_id")) & (COMPLETIONS.c.lesson_id == _b("b_lesson_id")))
    .order_by(*_BY_COMPLETION_TIME)
)
XP_TOTAL = select(func.coalesce(func.sum(XP_LEDGER.c.amount), 0)).where(
    XP_LEDGER.c.learner_id == _b("b_learner_id")
)
XP_AWARDS = select(XP_LEDGER).where(XP_LEDGER.c.learner_id == _b("b_learner_id")).order_by(XP_LEDGER.c.id)
SELECT_SETTINGS = select(SETTINGS).where(SETTINGS.c.learner_id == _b("b_learner_id"))
LESSON_ANSWERS = (
    select(ANSWERS)
    .where(ANSWERS.c.lesson_id == _b("b_lesson_id"))
    .order_by(ANSWERS.c.learner_id, ANSWERS.c.attempt, ANSWERS.c.answered_at)
)
DUE_NOTICES = (
    select(SCHEDULED)
    .where(
        (SCHEDULED.c.learner_id == _b("b_learner_id"))
        & SCHEDULED.c.sent_at.is_(None)
        & (SCHEDULED.c.due_at <= _b("b_now"))
    )
    .order_by(SCHEDULED.c.due_at, SCHEDULED.c.key)
)
MARK_SENT = (
    update(SCHEDULED)
    .where(
        (SCHEDULED.c.learner_id == _b("b_learner_id"))
        & (SCHEDULED.c.key == _b("b_key"))
        & SCHEDULED.c.sent_at.is_(None)
    )
    .values(sent_at=_b("b_sent_at"))
)
SELECT_BADGES = (
    select(BADGES)
    .where(BADGES.c.learner_id == _b("b_learner_id"))
    .order_by(BADGES.c.awarded_at, BADGES.c.badge)
)

INSERT_REPORT = REPORTS.insert()
_PENDING = (REPORTS.c.learner_id == _b("b_learner_id")) & REPORTS.c.words.is_(None)
PENDING_REPORT = select(REPORTS).where(_PENDING).order_by(REPORTS.c.id.desc()).limit(1)
DROP_PENDING_REPORTS = delete(REPORTS).where(_PENDING)


def _guarded(
    method: Callable[Concatenate[SqlProgressRepository, P], R],
) -> Callable[Concatenate[SqlProgressRepository, P], R]:
    """Run a repository method with driver errors translated to the port's exceptions."""

    @functools.wraps(method)
    def wrapper(self: SqlProgressRepository, *args: P.args, **kwargs: P.kwargs) -> R:
        with storage_errors(self.where):
            try:
                return method(self, *args, **kwargs)
            except exc.StatementError as error:
                if isinstance(error.orig, ValueError):  # a value refused before it reached the driver
                    raise error.orig from None
                raise

    return wrapper


@functools.cache
def _insert_ignoring_duplicates(dialect: str, table: Table) -> Insert:
    """`INSERT ... ON CONFLICT DO NOTHING`: a duplicate key inserts nothing and raises nothing.

    On PostgreSQL a concurrent insert of the same key waits for the other transaction: if it commits,
    nothing is inserted here; if it rolls back, this insert goes through. No savepoint is needed, and
    the surrounding transaction stays usable either way.
    """
    statement: Insert
    if dialect == "postgresql":
        statement = postgresql.insert(table).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(table).on_conflict_do_nothing()
    else:
        raise NotImplementedError(f"the progress store does not support {dialect}")
    return statement.execution_options(preserve_rowcount=True)  # INSERT rowcounts are dropped otherwise


_SQLITE_SCHEDULE = (
    "INSERT INTO scheduled_messages (learner_id, key, kind, text, due_at) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT DO NOTHING"
)


def _sqlite_utc(value: dt.datetime) -> str:
    """A UTC time as `UtcDateTime` stores it on SQLite (SQLAlchemy's text form, no offset)."""
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


@functools.cache
def _bulk_insert_ignoring_duplicates(dialect: str, table: Table) -> Insert:
    """As `_insert_ignoring_duplicates`, for many rows in one statement (no row count kept)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing()


@functools.lru_cache(maxsize=16)
def _where(url: URL) -> str:
    return describe(url)


class SqlProgressRepository:
    """`ProgressRepository` on one connection (the unit of work's transaction).

    A learner's progress read with `all_progress` is remembered until the transaction ends (the unit
    of work calls `forget`), and kept current by this repository's own saves: every tutor action
    reads it first, and the lesson it then works on needs no second query. Another transaction's
    change in between is caught as before, by the revision check of the next save.
    """

    def __init__(
        self,
        connection: Connection,
        stamps_migrations: bool = False,
        has_reports: bool = True,
        keeps_answers: bool = True,
    ) -> None:
        self._connection = connection
        self._stamps_migrations = stamps_migrations  # the schema has 0002's `migrated_at`
        self._has_reports = has_reports  # the schema has 0007's `learner_reports`
        # The schema has 0009's tables; without them (an older schema in the expand window) answers
        # are not kept and nothing is scheduled, as before 0009.
        self._keeps_answers = keeps_answers
        self._dialect = connection.dialect.name
        self.where = _where(connection.engine.url)
        self._known: dict[str, dict[str, LessonProgress]] = {}  # learner -> lesson -> progress

    def forget(self) -> None:
        """The transaction ended: what was read may have changed since."""
        self._known.clear()

    def _run(self, statement: Executable, parameters: dict[str, Any] | None = None) -> CursorResult[Any]:
        return self._connection.execute(statement, parameters)

    # learners

    @_guarded
    def learner(self, learner_id: str) -> Learner | None:
        row = self._run(SELECT_LEARNER, {"b_id": learner_id}).first()
        return None if row is None else _record(Learner, row)

    @_guarded
    def save_learner(self, learner: Learner) -> Learner:
        values = _learner_values(learner)
        if learner.revision == 0:
            created_at = learner.created_at or utc_now()
            if not self._insert(LEARNERS, {**values, "created_at": created_at, "revision": 1}, learner.id):
                raise ConcurrentUpdate(f"learner {learner.id!r} was created by another action")
            return dataclasses.replace(learner, created_at=created_at, revision=1)
        if learner.created_at is not None:
            values["created_at"] = learner.created_at
        del values["id"]
        key = {"b_id": learner.id, "b_revision": learner.revision}
        self._update(UPDATE_LEARNER, key, values, f"learner {learner.id!r}")
        return dataclasses.replace(learner, revision=learner.revision + 1)

    @_guarded
    def learner_ids(self) -> list[str]:
        return list(self._connection.scalars(LEARNER_IDS))

    # lesson progress

    @_guarded
    def progress(self, learner_id: str, lesson_id: str) -> LessonProgress | None:
        known = self._known.get(learner_id)
        if known is not None:
            return known.get(lesson_id)
        row = self._run(SELECT_PROGRESS, {"b_learner_id": learner_id, "b_lesson_id": lesson_id}).first()
        return None if row is None else _progress(row)

    @_guarded
    def all_progress(self, learner_id: str) -> list[LessonProgress]:
        known = self._known.get(learner_id)
        if known is None:
            rows = self._run(ALL_PROGRESS, {"b_learner_id": learner_id})
            known = self._known[learner_id] = {row.lesson_id: _progress(row) for row in rows}
        return [known[lesson_id] for lesson_id in sorted(known)]

    @_guarded
    def save_progress(self, progress: LessonProgress) -> LessonProgress:
        values = _progress_values(progress)
        what = f"progress of {progress.learner_id!r} in {progress.lesson_id!r}"
        if progress.revision == 0:
            if not self._insert(PROGRESS, {**values, "revision": 1}, progress.learner_id):
                raise ConcurrentUpdate(f"{what} was created by another action")
            saved = dataclasses.replace(progress, revision=1)
        elif self._stamps_migrations:
            key = {
                **_progress_key(progress, progress.lesson_id),
                "b_pinned": progress.pinned_version,
                "b_now": utc_now(),
            }
            self._update(UPDATE_PROGRESS_STAMPED, key, values, what)
            saved = dataclasses.replace(progress, revision=progress.revision + 1)
        else:
            self._update(UPDATE_PROGRESS, _progress_key(progress, progress.lesson_id), values, what)
            saved = dataclasses.replace(progress, revision=progress.revision + 1)
        known = self._known.get(progress.learner_id)
        if known is not None:
            known[progress.lesson_id] = saved
        return saved

    @_guarded
    def rename_lesson(self, learner_id: str, old_id: str, new_id: str) -> None:
        """Move progress and completions to the new id.

        When the learner already has progress under the new id, the record updated last wins (on a
        tie, or without timestamps, the one already under the new id); completions are all kept.
        """
        if old_id == new_id:
            return
        self._known.pop(learner_id, None)
        moving = self.progress(learner_id, old_id)
        if moving is not None:
            staying = self.progress(learner_id, new_id)
            what = f"progress of {learner_id!r} in {old_id!r}"
            if staying is None:
                self._update(UPDATE_PROGRESS, _progress_key(moving, old_id), {"lesson_id": new_id}, what)
            else:
                if _updated_later(moving, staying):
                    values = _progress_values(dataclasses.replace(moving, lesson_id=new_id))
                    self._update(UPDATE_PROGRESS, _progress_key(staying, new_id), values, what)
                if self._run(DELETE_PROGRESS, _progress_key(moving, old_id)).rowcount != 1:
                    raise ConcurrentUpdate(f"{what} changed while it was being renamed")
        self._run(
            RENAME_COMPLETIONS, {"b_learner_id": learner_id, "b_lesson_id": old_id, "lesson_id": new_id}
        )

    # the XP ledger (append-only: rows are inserted, never updated or deleted)

    @_guarded
    def award_xp(self, award: XpAward) -> bool:
        if award.amount < 0:
            raise ValueError(f"XP award {award.key!r} of {award.amount}: XP is never taken away")
        values = {
            "learner_id": award.learner_id,
            "amount": award.amount,
            "reason": award.reason,
            "key": award.key,
            "lesson_id": award.lesson_id,
            "version": award.version,
            "awarded_at": award.awarded_at or utc_now(),
        }
        return self._insert(XP_LEDGER, values, award.learner_id)

    @_guarded
    def xp_total(self, learner_id: str) -> int:
        return int(self._run(XP_TOTAL, {"b_learner_id": learner_id}).scalar_one())

    @_guarded
    def xp_awards(self, learner_id: str) -> list[XpAward]:
        return [_record(XpAward, row) for row in self._run(XP_AWARDS, {"b_learner_id": learner_id})]

    # completions

    @_guarded
    def add_completion(self, completion: Completion) -> None:
        try:
            self._run(INSERT_COMPLETION, dataclasses.asdict(completion))
        except exc.IntegrityError as error:
            raise _integrity_error(error, completion.learner_id) from error

    @_guarded
    def completions(self, learner_id: str, lesson_id: str | None = None) -> list[Completion]:
        if lesson_id is None:
            rows = self._run(ALL_COMPLETIONS, {"b_learner_id": learner_id})
        else:
            rows = self._run(LESSON_COMPLETIONS, {"b_learner_id": learner_id, "b_lesson_id": lesson_id})
        return [_record(Completion, row) for row in rows]

    # badges and processed events

    @_guarded
    def award_badge(self, award: BadgeAward) -> bool:
        values = {"learner_id": award.learner_id, "badge": award.badge, "awarded_at": award.awarded_at}
        return self._insert(BADGES, values, award.learner_id)

    @_guarded
    def badges(self, learner_id: str) -> list[BadgeAward]:
        rows = self._run(SELECT_BADGES, {"b_learner_id": learner_id})
        return [_record(BadgeAward, row) for row in rows]

    @_guarded
    def mark_processed(self, key: str) -> bool:
        return self._insert(PROCESSED, {"key": key, "processed_at": utc_now()}, None)

    # learner reports (0007)

    @_guarded
    def add_report(self, report: LearnerReport) -> None:
        if not self._has_reports:
            raise StorageUnavailable(
                f"the database at {self.where} has no learner reports table (schema before 0007): "
                f"{UPGRADE_HINT}"
            )
        try:
            self._run(INSERT_REPORT, dataclasses.asdict(report))
        except exc.IntegrityError as error:
            raise _integrity_error(error, report.learner_id) from error

    @_guarded
    def pending_report(self, learner_id: str) -> LearnerReport | None:
        if not self._has_reports:
            return None
        row = self._run(PENDING_REPORT, {"b_learner_id": learner_id}).first()
        return None if row is None else _record(LearnerReport, row)

    @_guarded
    def drop_pending_reports(self, learner_id: str) -> None:
        if self._has_reports:
            self._run(DROP_PENDING_REPORTS, {"b_learner_id": learner_id})

    # quiz answers and scheduled messages (0009)

    @_guarded
    def record_answer(self, answer: StoredAnswer) -> bool:
        if not self._keeps_answers:
            return False
        return self._insert(ANSWERS, dataclasses.asdict(answer), answer.learner_id)

    @_guarded
    def lesson_answers(self, lesson_id: str) -> list[StoredAnswer]:
        if not self._keeps_answers:
            return []
        return [_record(StoredAnswer, row) for row in self._run(LESSON_ANSWERS, {"b_lesson_id": lesson_id})]

    @_guarded
    def learner_answers(self, learner_id: str, lesson_id: str) -> list[StoredAnswer]:
        if not self._keeps_answers:
            return []
        statement = (
            select(ANSWERS)
            .where(ANSWERS.c.learner_id == learner_id, ANSWERS.c.lesson_id == lesson_id)
            .order_by(ANSWERS.c.attempt, ANSWERS.c.answered_at)
        )
        return [_record(StoredAnswer, row) for row in self._run(statement)]

    @_guarded
    def schedule(self, notice: Notice) -> bool:
        if not self._keeps_answers:
            return False
        return self._insert(SCHEDULED, dataclasses.asdict(notice), notice.learner_id)

    @_guarded
    def schedule_many(self, notices: list[Notice]) -> None:
        """Schedule many at once (one statement); those already scheduled are left as they are."""
        if self._keeps_answers and notices:
            if self._dialect == "sqlite":  # the driver's executemany: the rows' types are known
                stamps: dict[dt.datetime, str] = {}  # learners of one time zone share a due time
                values = []
                for n in notices:
                    stamp = stamps.get(n.due_at)
                    if stamp is None:
                        stamp = stamps[n.due_at] = _sqlite_utc(n.due_at)
                    values.append((n.learner_id, n.key, n.kind, n.text, stamp))
                self._connection.exec_driver_sql(_SQLITE_SCHEDULE, values)
                return
            rows = [
                {"learner_id": n.learner_id, "key": n.key, "kind": n.kind, "text": n.text, "due_at": n.due_at}
                for n in notices
            ]
            self._connection.execute(_bulk_insert_ignoring_duplicates(self._dialect, SCHEDULED), rows)

    @_guarded
    def due_everywhere(self, now: dt.datetime, kinds: tuple[str, ...], limit: int) -> list[Notice]:
        """Unsent messages of these kinds due by `now`, oldest first, over all learners."""
        if not self._keeps_answers:
            return []
        statement = (
            select(SCHEDULED)
            .where(SCHEDULED.c.sent_at.is_(None), SCHEDULED.c.due_at <= now, SCHEDULED.c.kind.in_(kinds))
            .order_by(SCHEDULED.c.due_at, SCHEDULED.c.learner_id, SCHEDULED.c.key)
            .limit(limit)
        )
        return [_record(Notice, row) for row in self._run(statement)]

    @_guarded
    def due_notices(self, learner_id: str, now: dt.datetime) -> list[Notice]:
        if not self._keeps_answers:
            return []
        rows = self._run(DUE_NOTICES, {"b_learner_id": learner_id, "b_now": now})
        return [_record(Notice, row) for row in rows]

    @_guarded
    def mark_sent(self, learner_id: str, key: str, at: dt.datetime) -> bool:
        if not self._keeps_answers:
            return False
        parameters = {"b_learner_id": learner_id, "b_key": key, "b_sent_at": at}
        return self._run(MARK_SENT, parameters).rowcount == 1

    @_guarded
    def message_settings(self, learner_id: str) -> MessageSettings:
        if not self._keeps_answers:
            return MessageSettings()
        row = self._run(SELECT_SETTINGS, {"b_learner_id": learner_id}).first()
        return MessageSettings() if row is None else _record(MessageSettings, row)

    @_guarded
    def save_message_settings(self, learner_id: str, settings: MessageSettings, at: dt.datetime) -> None:
        if not self._keeps_answers:
            raise StorageUnavailable(f"{self.where} has no learner_settings table yet: {UPGRADE_HINT}")
        values = {**dataclasses.asdict(settings), "updated_at": at}
        statement = (postgresql.insert if self._dialect == "postgresql" else sqlite.insert)(SETTINGS)
        upsert = statement.values(learner_id=learner_id, **values).on_conflict_do_update(
            index_elements=[SETTINGS.c.learner_id], set_=values
        )
        self._run(upsert)

    @_guarded
    def opted_out(self, kind: str) -> set[str]:
        if not self._keeps_answers or kind not in SETTINGS.c:
            return set()
        return set(self._connection.scalars(select(SETTINGS.c.learner_id).where(SETTINGS.c[kind].is_(False))))

    # helpers

    def _insert(self, table: Table, values: dict[str, Any], learner_id: str | None) -> bool:
        """Insert unless the key exists; True when a row was added."""
        statement = _insert_ignoring_duplicates(self._dialect, table)
        try:
            return self._run(statement, values).rowcount == 1
        except exc.IntegrityError as error:
            raise _integrity_error(error, learner_id) from error

    def _update(self, statement: Executable, key: dict[str, Any], values: dict[str, Any], what: str) -> None:
        """Run an `UPDATE ... WHERE <key> AND revision = :b_revision` that also raises the revision."""
        parameters = {**key, **values, "revision": key["b_revision"] + 1}
        try:
            rowcount = self._run(statement, parameters).rowcount
        except exc.IntegrityError as error:  # a rename onto a key another action just created
            raise ConcurrentUpdate(f"{what} collided with another action's change") from error
        if rowcount != 1:
            raise ConcurrentUpdate(
                f"{what} is no longer at revision {key['b_revision']}: another action saved it first"
            )


def _integrity_error(error: exc.IntegrityError, learner_id: str | None) -> Exception:
    sqlstate = getattr(error.orig, "sqlstate", None)
    if learner_id is not None and (sqlstate == "23503" or "FOREIGN KEY" in str(error.orig)):
        return UnknownLearner(learner_id)
    return error


# rows <-> records


def _progress_key(progress: LessonProgress, lesson_id: str) -> dict[str, Any]:
    """The WHERE parameters that find this record at its revision, under `lesson_id`."""
    return {"b_learner_id": progress.learner_id, "b_lesson_id": lesson_id, "b_revision": progress.revision}


def _updated_later(first: LessonProgress, second: LessonProgress) -> bool:
    if first.updated_at is None:
        return False
    return second.updated_at is None or first.updated_at > second.updated_at


def _learner_values(learner: Learner) -> dict[str, Any]:
    return {
        "id": learner.id,
        "name": learner.name,
        "time_zone": learner.time_zone,
        "active": learner.active,
        "streak_days": learner.streak_days,
        "last_active_day": learner.last_active_day,
        "freeze_available": learner.freeze_available,
        "freeze_used_on": learner.freeze_used_on,
    }


def _progress_values(progress: LessonProgress) -> dict[str, Any]:
    return {
        "learner_id": progress.learner_id,
        "lesson_id": progress.lesson_id,
        "pinned_version": progress.pinned_version,
        "status": progress.status,
        "current_section": progress.current_section,
        "sections_done": list(progress.sections_done),
        "answers": [dataclasses.asdict(answer) for answer in progress.answers],
        "attempt": progress.attempt,
        "started_at": progress.started_at,
        "updated_at": progress.updated_at,
        "completed_version": progress.completed_version,
        "completed_at": progress.completed_at,
        "seen_version": progress.seen_version,
        "pending_choice": progress.pending_choice,
    }


def _names_of_fields(record: type) -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(record))


# Typed as a plain callable: the cache's own signature asks for hashable arguments, which mypy does
# not see in `type[R]`.
_field_names: Callable[[type], tuple[str, ...]] = functools.cache(_names_of_fields)


def _record(record: type[R], row: Row[Any]) -> R:
    """The record whose fields are columns of the same names in `row` (extra columns are ignored)."""
    return record(**{name: getattr(row, name) for name in _field_names(record)})


def _progress(row: Row[Any]) -> LessonProgress:
    return LessonProgress(
        learner_id=row.learner_id,
        lesson_id=row.lesson_id,
        pinned_version=row.pinned_version,
        status=row.status,
        current_section=row.current_section,
        sections_done=tuple(row.sections_done),
        answers=tuple(QuizAnswer(**answer) for answer in row.answers),
        attempt=row.attempt,
        started_at=row.started_at,
        updated_at=row.updated_at,
        completed_version=row.completed_version,
        completed_at=row.completed_at,
        seen_version=row.seen_version,
        pending_choice=row.pending_choice,
        revision=row.revision,
    )
