"""The operations' CLI commands: `db snapshot|snapshots|restore|rehearse` and `doctor`.

`cli/bot.py` adds them to its apps (`register`); each parses options, calls one service of
`fiml_bot.services`, and prints its result.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from fiml_cms.clikit import example

from .options import ContentOption, DatabaseOption, user_errors
from .options import bot_settings as _settings

if TYPE_CHECKING:
    from ..ops.snapshots import Manifest, Scan

FolderOption = typer.Option(
    None, "--out", help="The snapshot folder (default: FIML_SNAPSHOT_DIR, else var/snapshots)."
)


def _snapshots_json(folder: Path, found: Scan, pruned: list[Manifest], dry_run: bool) -> str:
    """`db snapshots --json`: the listing in the envelope (`schemas/output/fiml-bot-db-snapshots.schema.json`)."""
    from fiml_cms.envelope import dumps

    def entry(manifest: Manifest) -> dict[str, Any]:
        return {
            "file": str(manifest.path),
            "created_at": manifest.created_at,
            "label": manifest.label,
            "kind": manifest.kind,
            "schema_revision": manifest.schema_revision,
            "database_id": manifest.database_id,
            "source": manifest.source,
            "xp_ledger_sum": manifest.xp_ledger_sum,
            "row_counts": manifest.row_counts,
        }

    return dumps(
        "fiml-bot/db-snapshots",
        {
            "folder": str(folder),
            "snapshots": [entry(m) for m in found.manifests],
            "unreadable": [{"file": str(path), "reason": reason} for path, reason in found.unreadable],
            ("would_delete" if dry_run else "deleted"): [str(m.path) for m in pruned],
        },
    )


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        print(f"fiml-bot: warning: {warning}", file=sys.stderr)


def describe_snapshot(manifest: Manifest) -> str:
    rows = ", ".join(f"{n} {t}" for t, n in manifest.row_counts.items())
    return f"{manifest.path}  revision {manifest.schema_revision}  {manifest.xp_ledger_sum} XP  [{rows}]"


@user_errors
def db_snapshot(
    out: Path | None = FolderOption,
    database: str | None = DatabaseOption,
    content: Path | None = ContentOption,
) -> None:
    """Snapshot the database (SQLite: online backup; PostgreSQL: pg_dump -Fc) with a manifest beside it."""
    from ..services.snapshots import snapshot

    print(f"snapshot {describe_snapshot(snapshot(_settings(content, database), out))}")


@user_errors
def db_snapshots(
    out: Path | None = FolderOption,
    keep: int | None = typer.Option(
        None, "--keep", min=0, help="Delete all but the newest N snapshots of each source database."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="With --keep: print what would be deleted."),
    as_json: bool = typer.Option(False, "--json", help="Print the list as JSON (schemas/output/)."),
) -> None:
    """List the snapshots, oldest first, with the database each came from; with --keep N delete all but
    the newest N of each source database. Unreadable manifests are listed and skipped."""
    from ..ops import identity
    from ..services.snapshots import list_snapshots
    from .options import environment

    listing = list_snapshots(environment(), out, keep, dry_run=dry_run)
    folder, found, pruned = listing.folder, listing.found, listing.pruned
    if as_json:
        print(_snapshots_json(folder, found, pruned, dry_run))
        return
    for manifest in pruned:
        print(f"{'would delete' if dry_run else 'deleted'} {manifest.path}")
    for manifest in found.manifests:
        print(
            f"{manifest.created_at}  {manifest.label:<13} source {identity.short(manifest.database_id)} "
            f"{manifest.source}  {describe_snapshot(manifest)}"
        )
    for path, reason in found.unreadable:
        print(f"unreadable manifest {path} (skipped): {reason}")
    print(f"{len(found.manifests)} snapshot(s) in {folder}")


@user_errors
def db_restore(
    snapshot: Path = typer.Argument(..., help="A snapshot file (or its .json manifest)."),
    quarantine: Path | None = typer.Option(
        None,
        "--quarantine",
        help="Write what was earned after the snapshot to FILE (JSON) instead of merging it back.",
    ),
    from_other_database: bool = typer.Option(
        False,
        "--from-other-database",
        help="Restore a snapshot taken from another database (its learners are merged into this one).",
    ),
    out: Path | None = FolderOption,
    database: str | None = DatabaseOption,
    content: Path | None = ContentOption,
) -> None:
    """Restore a snapshot, then merge back what was earned after it: XP and completions never go down.

    The snapshot file is checked against its manifest first, and the database as it was is
    snapshotted (label pre-restore). Killed at any instant, the restore leaves the database as it was
    or fully restored; the next fiml-bot command clears what it left.
    """
    from ..services.snapshots import restore

    restored = restore(
        _settings(content, database),
        snapshot,
        out=out,
        quarantine=quarantine,
        from_other_database=from_other_database,
    )
    print(restored.report.summary())
    _warn(restored.warnings)


@user_errors
def db_rehearse(
    source: str | None = typer.Argument(
        None,
        metavar="[SNAPSHOT|URL]",
        help="A snapshot, or a database URL to copy (default: the database).",
    ),
    database: str | None = DatabaseOption,
    content: Path | None = ContentOption,
) -> None:
    """Rehearse the migration on a throwaway copy: upgrade, doctor, a scripted session, downgrade, doctor, compare.

    Exits 1 if any learner lost XP or completions, or the doctor found problems on the copy.
    """
    from ..services.schema import rehearse

    result = rehearse(_settings(content, database), source)
    print(result.render())
    raise typer.Exit(result.exit_code)


@user_errors
def doctor_command(
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    textfile: Path | None = typer.Option(
        None,
        "--textfile",
        help="Also write fiml_doctor_problems to FILE (Prometheus textfile, for node_exporter's textfile collector).",
    ),
    against: Path | None = typer.Option(
        None,
        "--against",
        metavar="SNAPSHOT",
        help="Also report learners with less XP or fewer completions than this earlier snapshot of the database held.",
    ),
    database: str | None = DatabaseOption,
    content: Path | None = ContentOption,
) -> None:
    """Check the progress store's integrity against itself and the content. Exit 0 clean, 1 problems, 2 cannot run."""
    from ..ops.doctor import render_json, render_text
    from ..services.doctor import doctor

    run = doctor(_settings(content, database), against=against, textfile=textfile)
    print(render_json(run.report) if as_json else render_text(run.report))
    _warn(run.warnings)
    raise typer.Exit(run.report.exit_code)


def register(db_app: typer.Typer, app: typer.Typer) -> None:
    """Add the commands to the `fiml-bot` and `fiml-bot db` Typer apps."""
    db_app.command("snapshot", epilog=example("fiml-bot db snapshot --out var/snapshots"))(db_snapshot)
    db_app.command("snapshots", epilog=example("fiml-bot db snapshots --keep 10"))(db_snapshots)
    db_app.command(
        "restore", epilog=example("fiml-bot db restore var/snapshots/fiml-20261202T010000Z-manual.sqlite")
    )(db_restore)
    db_app.command(
        "rehearse", epilog=example("fiml-bot db rehearse var/snapshots/fiml-20261202T010000Z-manual.sqlite")
    )(db_rehearse)
    app.command("doctor", epilog=example("fiml-bot doctor --json"))(doctor_command)
