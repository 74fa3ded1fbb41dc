"""Restore a snapshot without losing what was earned after it.

1. The database as it is now is snapshotted first (label `pre-restore`): nothing is ever lost, and
   that copy is where the later data is read from.
2. The snapshot replaces the database (SQLite: the backup API; PostgreSQL: the current tables move
   to a side schema, `pg_restore` recreates them, and they move back if it fails).
3. A snapshot older than the database's schema is upgraded to the revision the database was at, so
   the running code's window still holds.
4. What the database held beyond the snapshot is merged back with set-based SQL (`MERGE_RULES`): new
   learners, ledger entries (by key), completions, badges, processed events, and learner and progress
   rows whose revision moved forward. So XP and completions never go down. With `quarantine`, those
   rows are written to a JSON file instead, for rolling back a corruption.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, inspect, text

from fiml_bot.storage import migrations_api
from fiml_bot.storage.database import describe, make_engine, parse_url, sqlite_path, storage_errors

from . import snapshots
from .errors import OpsError


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


@dataclass
class RestoreReport:
    snapshot: snapshots.Manifest
    safety: snapshots.Manifest | None  # the pre-restore snapshot (None: the database was empty)
    upgraded_to: str | None = None
    merged: dict[str, int] = field(default_factory=dict)  # table -> rows inserted or moved forward
    merged_xp: int = 0
    quarantined: Path | None = None

    def summary(self) -> str:
        lines = [
            f"restored {self.snapshot.path} (revision {self.snapshot.schema_revision}, taken {self.snapshot.created_at})"
        ]
        if self.safety is not None:
            lines.append(f"the database as it was is kept in {self.safety.path}")
        if self.upgraded_to is not None:
            lines.append(f"upgraded the restored schema to {self.upgraded_to}, where the database was")
        later = ", ".join(f"{n} {t}" for t, n in self.merged.items() if n) or "nothing"
        if self.quarantined is not None:
            lines.append(
                f"later data NOT merged ({later}; {self.merged_xp} XP): written to {self.quarantined}"
            )
        else:
            lines.append(f"merged back what was earned after the snapshot: {later} ({self.merged_xp} XP)")
        return "\n".join(lines)


def restore(
    url: str,
    snapshot_path: Path,
    *,
    folder: Path,
    quarantine: Path | None = None,
    content: Path | None = None,
) -> RestoreReport:
    manifest = snapshots.read_manifest(snapshot_path)
    snapshots.verify(manifest)
    kind = "sqlite" if parse_url(url).get_backend_name() == "sqlite" else "postgresql"
    if manifest.kind != kind:
        raise OpsError(
            f"{manifest.path} is a {manifest.kind} snapshot; the database at {describe(url)} is {kind}"
        )
    if (
        manifest.schema_revision is not None
        and manifest.schema_revision not in migrations_api.known_revisions()
    ):
        raise OpsError(
            f"{manifest.path} is at schema revision {manifest.schema_revision}, which this fiml-bot does not know: restore it with the fiml-bot that made it"
        )
    before = migrations_api.current(url)
    if before is not None and before not in migrations_api.known_revisions():
        raise OpsError(
            f"the database at {describe(url)} is at revision {before}, which this fiml-bot does not know: restore with the fiml-bot that migrated it"
        )
    safety = (
        snapshots.take(url, folder=folder, label="pre-restore", content=content)
        if before is not None
        else None
    )
    report = RestoreReport(manifest, safety)
    if kind == "sqlite":
        _replace_sqlite(url, manifest)
        with _attached_sqlite(url, safety) as (connection, side):
            _after_replace(url, connection, side, before, manifest, report, quarantine)
    else:
        with _replaced_postgres(url, manifest) as (connection, side):
            _after_replace(url, connection, side, before, manifest, report, quarantine)
    return report


def _after_replace(
    url: str,
    connection: Connection,
    side: str | None,
    before: str | None,
    manifest: snapshots.Manifest,
    report: RestoreReport,
    quarantine: Path | None,
) -> None:
    if before is not None and manifest.schema_revision != before:
        order = {r.revision: i for i, r in enumerate(_chain())}
        if manifest.schema_revision is None or order[manifest.schema_revision] < order[before]:
            connection.commit()
            migrations_api.upgrade(url, before)
            report.upgraded_to = before
    if side is None:
        return
    with connection.begin():
        if quarantine is not None:
            later = later_rows(connection, side)
            report.merged = {table: len(rows) for table, rows in later.items()}
            report.merged_xp = sum(int(row["amount"]) for row in later.get("xp_ledger", []))
            snapshots.write_private(quarantine, _quarantine_document(report, later).encode())
            report.quarantined = quarantine
        else:
            xp_before = _ledger_sum(connection)
            report.merged = merge(connection, side)
            report.merged_xp = _ledger_sum(connection) - xp_before


def _chain() -> tuple[Any, ...]:
    from fiml_bot.storage import window

    return window.chain()


# the merge: one set of statements per table, the same SQL on both databases


def _columns(connection: Connection, table: str, schema: str | None) -> list[str]:
    return [c["name"] for c in inspect(connection).get_columns(table, schema=schema)]


def _shared_columns(connection: Connection, rule: MergeRule, side: str) -> list[str]:
    ours = _columns(connection, rule.table, None)
    theirs = set(_columns(connection, rule.table, side))
    return [c for c in ours if c in theirs and c not in rule.skip]


def _q(name: str) -> str:
    return f'"{name}"'


def _missing(rule: MergeRule, side: str) -> str:
    """Side rows whose key the restored table lacks."""
    match = " AND ".join(f"m.{_q(k)} = s.{_q(k)}" for k in rule.key)
    return f"FROM {_q(side)}.{_q(rule.table)} s WHERE NOT EXISTS (SELECT 1 FROM {_q(rule.table)} m WHERE {match})"


def _moved_forward(rule: MergeRule, side: str) -> str:
    """Side rows whose `forward` column is larger than the restored row's."""
    assert rule.forward is not None
    match = " AND ".join(f"m.{_q(k)} = s.{_q(k)}" for k in rule.key)
    return f"FROM {_q(side)}.{_q(rule.table)} s WHERE EXISTS (SELECT 1 FROM {_q(rule.table)} m WHERE {match} AND {_later(rule, 'm')})"


def _later(rule: MergeRule, restored: str) -> str:
    """The side row's `forward` value is past the restored row's (a value set since NULL counts)."""
    assert rule.forward is not None
    mine, theirs = f"s.{_q(rule.forward)}", f"{restored}.{_q(rule.forward)}"
    return f"({mine} > {theirs} OR ({theirs} IS NULL AND {mine} IS NOT NULL))"


def _has_table(connection: Connection, table: str, schema: str | None) -> bool:
    return inspect(connection).has_table(table, schema=schema)


def later_rows(connection: Connection, side: str) -> dict[str, list[dict[str, Any]]]:
    """The side's rows that the restored database lacks or holds at an older revision, per table."""
    found: dict[str, list[dict[str, Any]]] = {}
    for rule in MERGE_RULES:
        if not (_has_table(connection, rule.table, side) and _has_table(connection, rule.table, None)):
            continue
        columns = ", ".join(f"s.{_q(c)}" for c in _shared_columns(connection, rule, side))
        rows = [
            dict(r._mapping) for r in connection.execute(text(f"SELECT {columns} {_missing(rule, side)}"))
        ]
        if rule.forward:
            rows += [
                dict(r._mapping)
                for r in connection.execute(text(f"SELECT {columns} {_moved_forward(rule, side)}"))
            ]
        found[rule.table] = rows
    return found


def _ledger_sum(connection: Connection) -> int:
    return int(connection.execute(text('SELECT coalesce(sum(amount), 0) FROM "xp_ledger"')).scalar_one())


def merge(connection: Connection, side: str) -> dict[str, int]:
    """Insert the side's missing rows and move forward the rows whose revision advanced; the number
    of rows merged per table."""
    merged: dict[str, int] = {}
    for rule in MERGE_RULES:
        if not (_has_table(connection, rule.table, side) and _has_table(connection, rule.table, None)):
            continue
        shared = _shared_columns(connection, rule, side)
        count = 0
        if rule.forward:
            assignments = ", ".join(f"{_q(c)} = s.{_q(c)}" for c in shared if c not in rule.key)
            match = " AND ".join(f"{_q(rule.table)}.{_q(k)} = s.{_q(k)}" for k in rule.key)
            count += connection.execute(
                text(
                    f"UPDATE {_q(rule.table)} SET {assignments} FROM {_q(side)}.{_q(rule.table)} s "
                    f"WHERE {match} AND {_later(rule, _q(rule.table))}"
                )
            ).rowcount
        names = ", ".join(_q(c) for c in shared)
        values = ", ".join(f"s.{_q(c)}" for c in shared)
        count += connection.execute(
            text(f"INSERT INTO {_q(rule.table)} ({names}) SELECT {values} {_missing(rule, side)}")
        ).rowcount
        merged[rule.table] = count
    return merged


def _quarantine_document(report: RestoreReport, later: dict[str, list[dict[str, Any]]]) -> str:
    document = {
        "kind": "fiml-bot restore quarantine",
        "snapshot": report.snapshot.file,
        "database_before_restore": report.safety.file if report.safety else None,
        "written_at": dt.datetime.now(dt.UTC).isoformat(),
        "xp": report.merged_xp,
        "tables": later,
    }
    return json.dumps(document, indent=2, sort_keys=True, default=str) + "\n"


# SQLite: replace the file's contents, then attach the pre-restore copy as the side


def _replace_sqlite(url: str, manifest: snapshots.Manifest) -> None:
    target = sqlite_path(url)
    assert target is not None
    target.parent.mkdir(parents=True, exist_ok=True)
    snapshots.copy_sqlite(manifest.path, target, self_contained=False)


@contextmanager
def _attached_sqlite(url: str, safety: snapshots.Manifest | None) -> Iterator[tuple[Connection, str | None]]:
    engine = make_engine(url)
    try:
        with storage_errors(describe(url)), engine.connect() as connection:
            raw = connection.connection.dbapi_connection
            assert raw is not None
            if safety is not None:
                raw.execute("ATTACH DATABASE ? AS side", (str(safety.path),))  # outside any transaction
            try:
                yield connection, "side" if safety is not None else None
            finally:
                if connection.in_transaction():
                    connection.rollback()
                if safety is not None:
                    raw.execute("DETACH DATABASE side")
    finally:
        engine.dispose()


# PostgreSQL: move the live tables aside, pg_restore the snapshot, merge from the side schema


@contextmanager
def _replaced_postgres(url: str, manifest: snapshots.Manifest) -> Iterator[tuple[Connection, str | None]]:
    from . import pgtools

    engine = make_engine(url)
    side = f"fiml_restore_{uuid.uuid4().hex[:12]}"
    try:
        with storage_errors(describe(url)), engine.connect() as connection:
            schema = connection.execute(text("SELECT current_schema()")).scalar_one()
            if manifest.pg_schema != schema:
                raise OpsError(
                    f"{manifest.path} holds schema {manifest.pg_schema!r}; the database URL uses {schema!r}: restore into a URL whose search_path is {manifest.pg_schema!r}"
                )
            version = snapshots.server_version(connection)
            pgtools.check_client("pg_restore", version)
            # Every table of the schema moves aside, not a list of known ones: the dump holds the whole
            # schema (a later migration's tables too, e.g. 0005's send_budget), and pg_restore recreates them.
            live = inspect(connection).get_table_names()
            connection.execute(text(f"CREATE SCHEMA {_q(side)}"))
            for table in live:
                connection.execute(text(f"ALTER TABLE {_q(table)} SET SCHEMA {_q(side)}"))
            connection.commit()
            workdir = Path(tempfile.mkdtemp(prefix="fiml-restore-"))
            try:
                pgtools.restore(parse_url(url), manifest.path, version, workdir)
            except BaseException:
                for table in live:  # nothing was restored (one transaction): put the tables back
                    connection.execute(text(f"ALTER TABLE {_q(side)}.{_q(table)} SET SCHEMA {_q(schema)}"))
                connection.execute(text(f"DROP SCHEMA {_q(side)}"))
                connection.commit()
                raise
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
            try:
                yield connection, side if live else None
            finally:
                if connection.in_transaction():
                    connection.rollback()
                connection.execute(text(f"DROP SCHEMA IF EXISTS {_q(side)} CASCADE"))
                connection.commit()
    finally:
        engine.dispose()
