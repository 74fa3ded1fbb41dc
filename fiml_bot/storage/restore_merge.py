"""The SQL of `db restore`'s switch: what the live database holds beyond a snapshot, merged into the
staged copy (or listed for the quarantine file), and the restore's own record in the restored data.

The staged copy sits beside the live tables under another name (SQLite: an attached database;
PostgreSQL: a staging schema), so every statement names two schemas, and the columns are the ones
both sides have (a snapshot may be a revision older): the statements are built from reflected column
names, as SQL text, identical on both databases. `ops/restore*.py` decide when they run (inside the
switch's one transaction, between the kill points).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, insert, inspect, select, text

from .models import ProcessedEventRow
from .table_counts import ledger_sum

PROCESSED: Table = ProcessedEventRow.__table__  # type: ignore[assignment]

__all__ = ["MERGE_RULES", "MergeRule", "event_recorded", "later_rows", "ledger_sum", "merge", "record_event"]


@dataclass(frozen=True)
class MergeRule:
    """How one table's later rows come back: rows whose key is missing are inserted; with `forward`,
    a row whose value in that column is larger replaces the restored one."""

    table: str
    key: tuple[str, ...]
    forward: str | None = None  # "revision": saved more often since; "amount": a key paid more
    skip: tuple[str, ...] = ()  # surrogate ids, renumbered on insert


MERGE_RULES = (  # parents before children (foreign keys)
    MergeRule("learners", ("id",), forward="revision"),
    MergeRule("lesson_progress", ("learner_id", "lesson_id"), forward="revision"),
    MergeRule("completions", ("learner_id", "lesson_id", "version", "attempt", "completed_at"), skip=("id",)),
    # A key pays once, so the same key with a larger amount exists only after the key's row was lost
    # and paid again; keeping the larger one keeps "never lower".
    MergeRule("xp_ledger", ("learner_id", "key"), forward="amount", skip=("id",)),
    MergeRule("badges", ("learner_id", "badge")),
    MergeRule("processed_events", ("key",)),
    # 0007: learners' problem reports and first answers (skipped when either side predates the tables).
    MergeRule("learner_reports", ("learner_id", "lesson_id", "version", "created_at"), skip=("id",)),
    MergeRule("quiz_first_answers", ("learner_id", "lesson_id", "version", "question_id")),
    MergeRule("provider_keys", ("learner_id", "provider")),  # keys added since (ciphertext; issue 25)
    # 0009: answers are facts; a message sent since the snapshot stays sent (its `sent_at` moved on
    # from NULL), so it is not sent again; a learner's latest /settings choice wins.
    MergeRule("quiz_answers", ("learner_id", "lesson_id", "attempt", "question_id")),
    MergeRule("scheduled_messages", ("learner_id", "key"), forward="sent_at"),
    MergeRule("learner_settings", ("learner_id",), forward="updated_at"),
)


def record_event(connection: Connection, schema: str, key: str, at: dt.datetime) -> bool:
    """Add a processed-event key to `schema`'s tables (a staged copy); False when it has no such table."""
    if not inspect(connection).has_table(PROCESSED.name, schema=schema):
        return False
    connection.execute(
        insert(PROCESSED).values(key=key, processed_at=at),
        execution_options={"schema_translate_map": {None: schema}},
    )
    return True


def event_recorded(connection: Connection, key: str) -> bool:
    """Whether the database's processed events hold `key` (raises DBAPIError without the table)."""
    return connection.execute(select(PROCESSED.c.key).where(PROCESSED.c.key == key)).first() is not None


def _q(name: str) -> str:
    return f'"{name}"'


def _columns(connection: Connection, table: str, schema: str | None) -> list[str]:
    return [c["name"] for c in inspect(connection).get_columns(table, schema=schema)]


def _shared_columns(connection: Connection, rule: MergeRule, side: str, target: str | None) -> list[str]:
    ours = _columns(connection, rule.table, target)
    theirs = set(_columns(connection, rule.table, side))
    return [c for c in ours if c in theirs and c not in rule.skip]


def _table(schema: str | None, table: str) -> str:
    return f"{_q(schema)}.{_q(table)}" if schema else _q(table)


def _missing(rule: MergeRule, side: str, target: str | None) -> str:
    """Side rows whose key the restored table lacks."""
    match = " AND ".join(f"m.{_q(k)} = s.{_q(k)}" for k in rule.key)
    return f"FROM {_table(side, rule.table)} s WHERE NOT EXISTS (SELECT 1 FROM {_table(target, rule.table)} m WHERE {match})"


def _moved_forward(rule: MergeRule, side: str, target: str | None) -> str:
    """Side rows whose `forward` column is larger than the restored row's."""
    assert rule.forward is not None
    match = " AND ".join(f"m.{_q(k)} = s.{_q(k)}" for k in rule.key)
    return f"FROM {_table(side, rule.table)} s WHERE EXISTS (SELECT 1 FROM {_table(target, rule.table)} m WHERE {match} AND {_later(rule, 'm')})"


def _later(rule: MergeRule, restored: str) -> str:
    """The side row's `forward` value is past the restored row's (a value set since NULL counts)."""
    assert rule.forward is not None
    mine, theirs = f"s.{_q(rule.forward)}", f"{restored}.{_q(rule.forward)}"
    return f"({mine} > {theirs} OR ({theirs} IS NULL AND {mine} IS NOT NULL))"


def _has_table(connection: Connection, table: str, schema: str | None) -> bool:
    return inspect(connection).has_table(table, schema=schema)


def later_rows(
    connection: Connection, side: str, target: str | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The side's rows that the restored database lacks or holds at an older revision, per table."""
    found: dict[str, list[dict[str, Any]]] = {}
    for rule in MERGE_RULES:
        if not (_has_table(connection, rule.table, side) and _has_table(connection, rule.table, target)):
            continue
        columns = ", ".join(f"s.{_q(c)}" for c in _shared_columns(connection, rule, side, target))
        rows = [
            dict(r._mapping)
            for r in connection.execute(text(f"SELECT {columns} {_missing(rule, side, target)}"))
        ]
        if rule.forward:
            rows += [
                dict(r._mapping)
                for r in connection.execute(text(f"SELECT {columns} {_moved_forward(rule, side, target)}"))
            ]
        found[rule.table] = rows
    return found


def merge(connection: Connection, side: str, target: str | None = None) -> dict[str, int]:
    """Insert the side's missing rows and move forward the rows whose revision advanced; the number
    of rows merged per table."""
    merged: dict[str, int] = {}
    for rule in MERGE_RULES:
        if not (_has_table(connection, rule.table, side) and _has_table(connection, rule.table, target)):
            continue
        shared = _shared_columns(connection, rule, side, target)
        count = 0
        if rule.forward:
            assignments = ", ".join(f"{_q(c)} = s.{_q(c)}" for c in shared if c not in rule.key)
            match = " AND ".join(f"m.{_q(k)} = s.{_q(k)}" for k in rule.key)
            count += connection.execute(
                text(
                    f"UPDATE {_table(target, rule.table)} AS m SET {assignments} FROM {_table(side, rule.table)} s "
                    f"WHERE {match} AND {_later(rule, 'm')}"
                )
            ).rowcount
        names = ", ".join(_q(c) for c in shared)
        values = ", ".join(f"s.{_q(c)}" for c in shared)
        count += connection.execute(
            text(
                f"INSERT INTO {_table(target, rule.table)} ({names}) SELECT {values} {_missing(rule, side, target)}"
            )
        ).rowcount
        merged[rule.table] = count
    return merged
