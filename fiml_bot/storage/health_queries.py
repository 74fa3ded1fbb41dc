"""The questions `fiml-bot doctor`, `doctor --against` and `db rehearse` ask of the progress tables.

Each function is one set-based query (one round trip, never one per learner) on the caller's
connection, so a doctor run sees one state; it returns plain typed rows, and the ops modules decide
what a row means. Only columns every revision in the schema window has are named, so a database one
migration behind is read the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from sqlalchemy import ColumnElement, Connection, Table, Text, and_, exists, func, literal, or_, select

from .models import BadgeRow, CompletionRow, LearnerRow, LessonProgressRow, ProviderKeyRow, XpLedgerRow

LEARNERS: Table = LearnerRow.__table__  # type: ignore[assignment]
PROGRESS: Table = LessonProgressRow.__table__  # type: ignore[assignment]
COMPLETIONS: Table = CompletionRow.__table__  # type: ignore[assignment]
LEDGER: Table = XpLedgerRow.__table__  # type: ignore[assignment]
BADGES: Table = BadgeRow.__table__  # type: ignore[assignment]
PROVIDER_KEYS: Table = ProviderKeyRow.__table__  # type: ignore[assignment]

LEARNER_TABLES: dict[str, Table] = {
    "lesson_progress": PROGRESS,
    "completions": COMPLETIONS,
    "xp_ledger": LEDGER,
    "badges": BADGES,
}
VERSION_COLUMNS = ("pinned_version", "seen_version")


class DuplicateKey(NamedTuple):
    learner_id: str
    key: str
    n: int
    total: int


class NegativeEntry(NamedTuple):
    learner_id: str
    key: str
    amount: int
    lesson_id: str | None


class Orphans(NamedTuple):
    learner_id: str
    n: int


class Unpaid(NamedTuple):
    learner_id: str
    lesson_id: str
    earned: int
    version: str


class Mispaid(NamedTuple):
    learner_id: str
    lesson_id: str
    xp_earned: int
    amount: int


class HeldBadge(NamedTuple):
    learner_id: str
    badge: str
    lessons: int
    xp: int
    perfect: int


class VersionUse(NamedTuple):
    lesson_id: str
    version: str
    n: int


class Position(NamedTuple):
    lesson_id: str
    pinned_version: str
    current_section: str


def _count(connection: Connection, table: Table) -> int:
    return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def learner_count(connection: Connection) -> int:
    return _count(connection, LEARNERS)


def provider_key_count(connection: Connection) -> int:
    return _count(connection, PROVIDER_KEYS)


def _lesson_key(lesson_id: ColumnElement[str]) -> ColumnElement[str]:
    """`'lesson:' || lesson_id`: the ledger key a lesson's completion is paid under."""
    return literal("lesson:", Text) + lesson_id


def duplicate_ledger_keys(connection: Connection) -> list[DuplicateKey]:
    """Ledger keys paid more than once to one learner (a key pays once)."""
    query = (
        select(LEDGER.c.learner_id, LEDGER.c.key, func.count(), func.sum(LEDGER.c.amount))
        .group_by(LEDGER.c.learner_id, LEDGER.c.key)
        .having(func.count() > 1)
        .order_by(LEDGER.c.learner_id, LEDGER.c.key)
    )
    return [DuplicateKey(str(r[0]), str(r[1]), int(r[2]), int(r[3])) for r in connection.execute(query)]


def negative_ledger_entries(connection: Connection) -> list[NegativeEntry]:
    query = (
        select(LEDGER.c.learner_id, LEDGER.c.key, LEDGER.c.amount, LEDGER.c.lesson_id)
        .where(LEDGER.c.amount < 0)
        .order_by(LEDGER.c.learner_id, LEDGER.c.key)
    )
    return [NegativeEntry(*r) for r in connection.execute(query)]


def orphan_rows(connection: Connection, table: str) -> list[Orphans]:
    """Per learner id, the rows of `table` (one of `LEARNER_TABLES`) whose learner does not exist."""
    rows = LEARNER_TABLES[table]
    query = (
        select(rows.c.learner_id, func.count())
        .select_from(rows.outerjoin(LEARNERS, LEARNERS.c.id == rows.c.learner_id))
        .where(LEARNERS.c.id.is_(None))
        .group_by(rows.c.learner_id)
        .order_by(rows.c.learner_id)
    )
    return [Orphans(str(r[0]), int(r[1])) for r in connection.execute(query)]


def unpaid_completions(connection: Connection) -> list[Unpaid]:
    """Completed lessons with no `lesson:<id>` ledger payment: the largest `xp_earned` recorded and
    the oldest version completed, per learner and lesson."""
    c = COMPLETIONS.alias("c")
    x = LEDGER.alias("x")
    paid = exists().where(x.c.learner_id == c.c.learner_id, x.c.key == _lesson_key(c.c.lesson_id))
    query = (
        select(c.c.learner_id, c.c.lesson_id, func.max(c.c.xp_earned), func.min(c.c.version))
        .where(~paid)
        .group_by(c.c.learner_id, c.c.lesson_id)
        .order_by(c.c.learner_id, c.c.lesson_id)
    )
    return [Unpaid(*r) for r in connection.execute(query)]


def holders_of_keys(connection: Connection, keys: Iterable[str]) -> list[tuple[str, str]]:
    """(learner, key) for each ledger entry under one of `keys`."""
    wanted = sorted(set(keys))
    if not wanted:
        return []
    query = select(LEDGER.c.learner_id, LEDGER.c.key).where(LEDGER.c.key.in_(wanted))
    return [(str(r[0]), str(r[1])) for r in connection.execute(query)]


def mispaid_completions(connection: Connection, reason: str) -> list[Mispaid]:
    """Completions whose recorded `xp_earned` differs from the ledger's lesson payment (of `reason`)."""
    c = COMPLETIONS.alias("c")
    x = LEDGER.alias("x")
    query = (
        select(c.c.learner_id, c.c.lesson_id, c.c.xp_earned, x.c.amount)
        .select_from(c.join(x, and_(x.c.learner_id == c.c.learner_id, x.c.key == _lesson_key(c.c.lesson_id))))
        .where(c.c.xp_earned > 0, x.c.reason == reason, x.c.amount != c.c.xp_earned)
        .order_by(c.c.learner_id, c.c.lesson_id)
    )
    return [Mispaid(*r) for r in connection.execute(query)]


def held_badges(connection: Connection) -> list[HeldBadge]:
    """Every badge held, with what its holder has earned: distinct lessons completed, ledger XP, and
    perfect completions (every answer right)."""
    b = BADGES.alias("b")
    c = COMPLETIONS.alias("c")
    x = LEDGER.alias("x")
    lessons = (
        select(func.count(c.c.lesson_id.distinct())).where(c.c.learner_id == b.c.learner_id).scalar_subquery()
    )
    xp = (
        select(func.coalesce(func.sum(x.c.amount), 0))
        .where(x.c.learner_id == b.c.learner_id)
        .scalar_subquery()
    )
    perfect = (
        select(func.count())
        .select_from(c)
        .where(c.c.learner_id == b.c.learner_id, c.c.total > 0, c.c.score == c.c.total)
        .scalar_subquery()
    )
    query = select(b.c.learner_id, b.c.badge, lessons, xp, perfect).order_by(b.c.learner_id, b.c.badge)
    return [
        HeldBadge(str(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in connection.execute(query)
    ]


def path_badge_completions(connection: Connection, explorer: str, path_prefix: str) -> list[tuple[str, str]]:
    """(learner, lesson) completed, for the learners holding the `explorer` badge or a path badge."""
    c = COMPLETIONS.alias("c")
    b = BADGES.alias("b")
    query = (
        select(c.c.learner_id, c.c.lesson_id)
        .distinct()
        .select_from(c.join(b, b.c.learner_id == c.c.learner_id))
        .where(or_(b.c.badge == explorer, b.c.badge.startswith(path_prefix, autoescape=True)))
    )
    return [(str(r[0]), str(r[1])) for r in connection.execute(query)]


def version_uses(connection: Connection, column: str) -> list[VersionUse]:
    """Distinct (lesson, version) in `column` (one of `VERSION_COLUMNS`) of lesson_progress, with counts."""
    version = PROGRESS.c[column] if column in VERSION_COLUMNS else None
    if version is None:
        raise ValueError(f"not a version column of lesson_progress: {column!r}")
    query = (
        select(PROGRESS.c.lesson_id, version, func.count())
        .where(version.is_not(None))
        .group_by(PROGRESS.c.lesson_id, version)
    )
    return [VersionUse(str(r[0]), str(r[1]), int(r[2])) for r in connection.execute(query)]


def learners_on_version(connection: Connection, column: str, lesson_id: str, version: str) -> list[str]:
    if column not in VERSION_COLUMNS:
        raise ValueError(f"not a version column of lesson_progress: {column!r}")
    query = (
        select(PROGRESS.c.learner_id)
        .where(PROGRESS.c.lesson_id == lesson_id, PROGRESS.c[column] == version)
        .order_by(PROGRESS.c.learner_id)
    )
    return [str(r[0]) for r in connection.execute(query)]


def positions(connection: Connection) -> list[Position]:
    """Distinct (lesson, pinned version, current section) where a learner is inside a lesson."""
    query = (
        select(PROGRESS.c.lesson_id, PROGRESS.c.pinned_version, PROGRESS.c.current_section)
        .where(PROGRESS.c.current_section.is_not(None))
        .group_by(PROGRESS.c.lesson_id, PROGRESS.c.pinned_version, PROGRESS.c.current_section)
    )
    return [Position(*r) for r in connection.execute(query)]


def learners_at(connection: Connection, position: Position) -> list[str]:
    query = (
        select(PROGRESS.c.learner_id)
        .where(
            PROGRESS.c.lesson_id == position.lesson_id,
            PROGRESS.c.pinned_version == position.pinned_version,
            PROGRESS.c.current_section == position.current_section,
        )
        .order_by(PROGRESS.c.learner_id)
    )
    return [str(r[0]) for r in connection.execute(query)]


def learner_totals(connection: Connection) -> dict[str, tuple[int, int]]:
    """Per learner id, (XP in the ledger, completions), in three grouped queries; learners whose rows
    outlived them are included (what a restore or a migration must not lose is rows, not learners)."""
    found = {str(r[0]): [0, 0] for r in connection.execute(select(LEARNERS.c.id))}
    xp = select(LEDGER.c.learner_id, func.sum(LEDGER.c.amount)).group_by(LEDGER.c.learner_id)
    for who, amount in connection.execute(xp):
        found.setdefault(str(who), [0, 0])[0] = int(amount)
    done = select(COMPLETIONS.c.learner_id, func.count()).group_by(COMPLETIONS.c.learner_id)
    for who, count in connection.execute(done):
        found.setdefault(str(who), [0, 0])[1] = int(count)
    return {who: (amount, count) for who, (amount, count) in found.items()}
