"""Snapshots of the progress store: take, list and prune, restore."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..bot_settings import BotSettings
from ..ops import restore as restoring
from ..ops import snapshots
from ..ops.errors import OpsError
from ..ops.restore import RestoreReport
from ..ops.snapshots import Manifest
from .alerts import send_alert


def take_snapshot(settings: BotSettings, folder: Path | None, label: str) -> Manifest:
    """A snapshot of the settings' database; before a migration (label `pre-...`) a failure says how
    to go on without one."""
    try:
        return snapshots.take(
            settings.database_url,
            folder=snapshots.snapshot_folder(settings.env, out=folder),
            label=label,
            content=settings.content,
            pg_bindir=settings.pg_bindir,
        )
    except OpsError as error:
        if label.startswith("pre-") and label != "pre-restore":
            raise OpsError(
                f"{error}; nothing was migrated (to migrate without a snapshot, pass --no-snapshot)"
            ) from None
        raise


def snapshot(settings: BotSettings, out: Path | None) -> Manifest:
    """`db snapshot`: a manual snapshot of the settings' database."""
    return take_snapshot(settings, out, "manual")


@dataclass(frozen=True)
class SnapshotListing:
    folder: Path
    found: snapshots.Scan  # the manifests, oldest first, and the unreadable ones
    pruned: list[Manifest]  # deleted (or, dry run, to be deleted) by --keep
    dry_run: bool


def list_snapshots(
    env: Mapping[str, str], out: Path | None, keep: int | None, *, dry_run: bool
) -> SnapshotListing:
    """`db snapshots`: with `keep`, all but the newest `keep` of each source database deleted first."""
    folder = snapshots.snapshot_folder(env, out=out)
    pruned = snapshots.prune(folder, keep, dry_run=dry_run) if keep is not None else []
    return SnapshotListing(folder, snapshots.scan(folder), pruned, dry_run)


@dataclass(frozen=True)
class Restored:
    report: RestoreReport
    warnings: list[str]  # e.g. the DatabaseRestored alert could not be sent


def restore(
    settings: BotSettings,
    snapshot_path: Path,
    *,
    out: Path | None,
    quarantine: Path | None,
    from_other_database: bool,
) -> Restored:
    """`db restore`: the snapshot restored and what was earned after it merged back; an alert says so."""
    report = restoring.restore(
        settings.database_url,
        snapshot_path,
        folder=snapshots.snapshot_folder(settings.env, out=out),
        quarantine=quarantine,
        content=settings.content,
        from_other_database=from_other_database,
        pg_bindir=settings.pg_bindir,
    )
    warning = send_alert(
        settings.env,
        "DatabaseRestored",
        "warning",
        f"fiml-bot db restore: the database was restored from {snapshot_path.name}",
        report.summary(),
    )
    return Restored(report, [warning] if warning is not None else [])
