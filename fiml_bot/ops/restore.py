"""Restore a snapshot without losing what was earned after it, crash-safe at every instant.

1. The snapshot is checked: its manifest (fields, sha256), its database (`--from-other-database`
   overrides a stranger's snapshot) and the file itself against the manifest (tables, revision,
   identity, row counts, XP), before anything is touched.
2. It is staged aside, never over the live data (SQLite: a copy beside the database file; PostgreSQL:
   a temporary database, then a marked staging schema in the live one) and upgraded there to the
   revision the database is at, so the running code's window still holds. The database as it is is
   snapshotted (label `pre-restore`).
3. In ONE transaction on the live database, with writers excluded (SQLite: the write lock;
   PostgreSQL: EXCLUSIVE locks on the live tables, readers go on), what the live database holds beyond
   the snapshot is merged into the staged copy with set-based SQL (`MERGE_RULES`), and the staged copy
   becomes the database (SQLite: its rows replace the live rows; PostgreSQL: the schemas are renamed).
   A writer waiting on the lock then writes to the restored data, so nothing it does is lost.
4. The scratch is removed. A restore killed anywhere leaves the database either as it was or fully
   restored, and only scratch behind, which the next `fiml-bot` command removes (`recovery.py`).

With `quarantine`, the later rows are written to a JSON file instead of merged, for rolling back a
corruption. `killpoints.point` names each step, for the kill test.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from fiml_bot.storage import migrations_api
from fiml_bot.storage.database import describe, parse_url
from fiml_bot.storage.restore_merge import MERGE_RULES, MergeRule, later_rows, ledger_sum, merge, record_event

from . import identity, recovery, snapshots
from .errors import OpsError, OpsRefused

__all__ = ["MERGE_RULES", "MergeRule", "Plan", "RestoreReport", "later_rows", "merge", "restore"]


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
    from_other_database: bool = False,
    pg_bindir: str = "",
) -> RestoreReport:
    """Restore `snapshot_path` into the database at `url` (see the module notes); `pg_bindir`: where
    pg_dump and pg_restore are (the FIML_PG_BINDIR setting; "" for PATH)."""
    recovery.recover(url)  # an earlier, interrupted restore's scratch first
    manifest = snapshots.read_manifest(snapshot_path)
    snapshots.verify(manifest)
    kind = "sqlite" if parse_url(url).get_backend_name() == "sqlite" else "postgresql"
    if manifest.kind != kind:
        raise OpsError(
            f"{manifest.path} is a {manifest.kind} snapshot; the database at {describe(url)} is {kind}"
        )
    known = migrations_api.known_revisions()
    if manifest.schema_revision is not None and manifest.schema_revision not in known:
        raise OpsError(
            f"{manifest.path} is at schema revision {manifest.schema_revision}, which this fiml-bot does not know: restore it with the fiml-bot that made it"
        )
    before = migrations_api.current(url)
    if before is not None and before not in known:
        raise OpsError(
            f"the database at {describe(url)} is at revision {before}, which this fiml-bot does not know: restore with the fiml-bot that migrated it"
        )
    live_id = live_identity(url) if before is not None else None
    check_provenance(manifest, url, live_id, from_other_database)
    plan = Plan(
        url=url,
        manifest=manifest,
        before=before,
        live_id=live_id,
        folder=folder,
        content=content,
        quarantine=quarantine,
        restore_id=uuid.uuid4().hex[:12],
        pg_bindir=pg_bindir,
    )
    report = RestoreReport(manifest, None)
    if kind == "sqlite":
        from .restore_sqlite import run
    else:
        from .restore_postgres import run
    run(plan, report)
    return report


@dataclass(frozen=True)
class Plan:
    """What one restore does, handed to the SQLite or PostgreSQL procedure."""

    url: str
    manifest: snapshots.Manifest
    before: str | None  # the live database's revision (None: empty)
    live_id: str | None
    folder: Path
    content: Path | None
    quarantine: Path | None
    restore_id: str
    pg_bindir: str = ""  # where pg_dump and pg_restore are ("" for PATH)

    def upgrade_target(self) -> str | None:
        """The revision the staged copy must reach (the live one's), when the snapshot is older."""
        if self.before is None or self.manifest.schema_revision == self.before:
            return None
        order = {r.revision: i for i, r in enumerate(_chain())}
        older = (
            self.manifest.schema_revision is None or order[self.manifest.schema_revision] < order[self.before]
        )
        return self.before if older else None

    def live_upgrade_target(self) -> str | None:
        """The revision the live database must reach first, when the snapshot is newer."""
        if self.before is None or self.manifest.schema_revision in (None, self.before):
            return None
        return None if self.upgrade_target() else self.manifest.schema_revision


def live_identity(url: str) -> str | None:
    from fiml_bot.storage.database import make_engine, storage_errors

    engine = make_engine(url, readers=True)
    try:
        with storage_errors(describe(url)), engine.connect() as connection:
            return identity.identity_of(connection)
    finally:
        engine.dispose()


def check_provenance(
    manifest: snapshots.Manifest, url: str, live_id: str | None, from_other_database: bool
) -> None:
    """Refuse a snapshot of another database: merging it would bring a stranger's learners in."""
    if from_other_database or live_id is None:
        return  # an empty database (a new server) takes any snapshot, and its identity
    if manifest.database_id is None:
        if manifest.source == describe(url):
            return  # taken before databases had identities, from this database's URL
        raise OpsRefused(
            f"{manifest.path} records no database identity and was taken from {manifest.source}, not "
            f"{describe(url)}: if it is this database's, pass --from-other-database"
        )
    if manifest.database_id != live_id:
        raise OpsRefused(
            f"{manifest.path} is a snapshot of another database (identity {identity.short(manifest.database_id)}, "
            f"taken from {manifest.source}); this database is {identity.short(live_id)}: restoring it would "
            f"merge that database's learners into this one. Pass --from-other-database to do it anyway"
        )


def check_file(connection: Connection, manifest: snapshots.Manifest) -> None:
    """The staged file must be what its manifest says (a sha256 only proves the manifest was written
    for these bytes, not that they are the database it describes)."""
    from fiml_bot.storage.migrations_api import revision_of

    revision = revision_of(connection)
    rows, xp = snapshots.counts(connection)
    found_id = identity.identity_of(connection)
    problems = []
    if revision != manifest.schema_revision:
        problems.append(f"schema revision {revision}, the manifest says {manifest.schema_revision}")
    if found_id != manifest.database_id:
        problems.append(f"database identity {found_id}, the manifest says {manifest.database_id}")
    if rows != manifest.row_counts:
        problems.append(f"row counts {rows}, the manifest says {manifest.row_counts}")
    if xp != manifest.xp_ledger_sum:
        problems.append(f"{xp} XP in the ledger, the manifest says {manifest.xp_ledger_sum}")
    if problems:
        raise OpsError(
            f"{manifest.path} does not hold what {manifest.manifest_path.name} describes: {'; '.join(problems)}; nothing was restored"
        )


def merge_or_quarantine(
    connection: Connection, plan: Plan, report: RestoreReport, target: str, side: str
) -> None:
    """Inside the switch's transaction: merge the live database's later rows (`side`) into the staged
    copy (`target`), or write them to the quarantine file."""
    if plan.quarantine is not None:
        later = later_rows(connection, side, target)
        report.merged = {table: len(rows) for table, rows in later.items()}
        report.merged_xp = sum(int(row["amount"]) for row in later.get("xp_ledger", []))
        snapshots.write_private(plan.quarantine, _quarantine_document(report, later).encode())
        report.quarantined = plan.quarantine
    else:
        xp_before = ledger_sum(connection, target)
        report.merged = merge(connection, side, target)
        report.merged_xp = ledger_sum(connection, target) - xp_before


def record_switch(connection: Connection, schema: str, restore_id: str) -> None:
    """Record the restore in the restored data, in the switch's transaction: how recovery tells a
    restore that took effect from one that did not."""
    record_event(connection, schema, recovery.event_key(restore_id), dt.datetime.now(dt.UTC))


def _chain() -> tuple[Any, ...]:
    from fiml_bot.storage import window

    return window.chain()


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
