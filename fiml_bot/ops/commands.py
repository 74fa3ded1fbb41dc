"""The operations' CLI commands: `db snapshot|snapshots|restore|rehearse` and `doctor`.

`fiml_bot/cli.py` adds them to its apps (`register`); each parses options, calls one function of
`fiml_bot.ops`, and prints its result.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from fiml_cms.clikit import example
from fiml_cms.errors import FimlError, MissingInput

from ..cli_options import ContentOption, DatabaseOption, environment, user_errors
from ..cli_options import bot_settings as _settings

FolderOption = typer.Option(
    None, "--out", help="The snapshot folder (default: FIML_SNAPSHOT_DIR, else var/snapshots)."
)


def doctor_content(settings: Any) -> tuple[Any, str | None]:
    """The content for the doctor, or None with the reason it could not be opened."""
    from fiml_bot.bootstrap import open_content

    try:
        return open_content(settings), None
    except FimlError as error:
        return None, str(error)


def run_doctor(settings: Any) -> Any:
    """The doctor's report on the settings' database and content (content checks skipped without content)."""
    from . import doctor

    content, reason = doctor_content(settings)
    report = doctor.run(settings.database_url, content, settings.env)
    if reason is not None:
        report.skipped[:] = [f"versions and positions against the content: {reason}"]
    return report


def take_snapshot(url: str, folder: Path | None, label: str, content: Path | None = None) -> Any:
    """A snapshot; before a migration (label `pre-...`) a failure says how to go on without one."""
    from . import snapshots
    from .errors import OpsError

    try:
        return snapshots.take(
            url, folder=snapshots.snapshot_folder(environment(), out=folder), label=label, content=content
        )
    except OpsError as error:
        if label.startswith("pre-") and label != "pre-restore":
            raise OpsError(
                f"{error}; nothing was migrated (to migrate without a snapshot, pass --no-snapshot)"
            ) from None
        raise


ALERT_FLUSH_SECONDS = 10.0


def _snapshots_json(folder: Path, found: Any, pruned: list[Any], dry_run: bool) -> str:
    """`db snapshots --json`: the listing in the envelope (`schemas/output/fiml-bot-db-snapshots.schema.json`)."""
    from fiml_cms.envelope import dumps

    def entry(manifest: Any) -> dict[str, Any]:
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


def describe_snapshot(manifest: Any) -> str:
    rows = ", ".join(f"{n} {t}" for t, n in manifest.row_counts.items())
    return f"{manifest.path}  revision {manifest.schema_revision}  {manifest.xp_ledger_sum} XP  [{rows}]"


def send_alert(name: str, severity: str, summary: str, description: str = "") -> None:
    """Post an alert from a command (FIML_ALERT_WEBHOOK_URL, Alertmanager's v4 payload); nothing when unset.

    A command is about to exit, so the send is flushed, bounded: a down receiver costs at most a few
    seconds and never changes the command's exit code.
    """
    from .alerts import Alert

    post_alert(Alert(name, severity, summary, description))


def post_alert(alert: Any) -> None:
    """`send_alert` for a ready Alert (a resolved one too)."""
    from .alerts import AlertConfigError, from_env

    try:
        sender = from_env(environment())
    except AlertConfigError as exc:  # the command's own outcome stands
        print(f"fiml-bot: warning: alert {alert.name} not sent: {exc}", file=sys.stderr)
        return
    if sender is None:
        return
    sender.send(alert)
    sender.flush(timeout=ALERT_FLUSH_SECONDS)


def doctor_alert(database_url: str, problems: int, details: str) -> None:
    """DoctorProblems while the doctor finds problems; resolved by the first clean run after them
    (remembered in FIML_ALERT_STATE between runs: the doctor runs from cron)."""
    from ..settings import ALERT_WEBHOOK_URL
    from . import alert_memory
    from .alerts import Alert

    env = environment()
    if not env.value(ALERT_WEBHOOK_URL):
        return
    path, entry = alert_memory.state_path(env), alert_memory.key("DoctorProblems", database_url)
    if problems:
        post_alert(
            alert_memory.remember(
                path,
                entry,
                Alert(
                    "DoctorProblems",
                    "critical",
                    f"fiml-bot doctor: {problems} integrity problem(s) in the progress store",
                    details,
                ),
            )
        )
    elif (resolved := alert_memory.forget(path, entry)) is not None:
        post_alert(resolved)


def write_doctor_textfile(path: Path, problems: int) -> None:
    """`fiml_doctor_problems` (the FimlDoctorProblems alert's input) and the run's time, written
    atomically by prometheus_client for node_exporter's textfile collector: doctor runs from cron, not
    inside the bot (a full check of 100,000 learners takes seconds)."""
    import time

    from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

    registry = CollectorRegistry()
    Gauge(
        "fiml_doctor_problems", "Integrity problems the last `fiml-bot doctor` found.", registry=registry
    ).set(problems)
    Gauge(
        "fiml_doctor_last_run_timestamp_seconds",
        "When `fiml-bot doctor` last ran (Unix time).",
        registry=registry,
    ).set(time.time())
    try:
        write_to_textfile(str(path), registry)
    except OSError as exc:
        raise MissingInput(f"--textfile {path}: {exc.strerror or exc}") from None


@user_errors
def db_snapshot(
    out: Path | None = FolderOption,
    database: str | None = DatabaseOption,
    content: Path | None = ContentOption,
) -> None:
    """Snapshot the database (SQLite: online backup; PostgreSQL: pg_dump -Fc) with a manifest beside it."""
    settings = _settings(content, database)
    manifest = take_snapshot(settings.database_url, out, "manual", settings.content)
    print(f"snapshot {describe_snapshot(manifest)}")


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
    from . import identity, snapshots

    folder = snapshots.snapshot_folder(environment(), out=out)
    pruned = snapshots.prune(folder, keep, dry_run=dry_run) if keep is not None else []
    found = snapshots.scan(folder)
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
    from . import restore, snapshots

    settings = _settings(content, database)
    report = restore.restore(
        settings.database_url,
        snapshot,
        folder=snapshots.snapshot_folder(settings.env, out=out),
        quarantine=quarantine,
        content=settings.content,
        from_other_database=from_other_database,
    )
    print(report.summary())
    send_alert(
        "DatabaseRestored",
        "warning",
        f"fiml-bot db restore: the database was restored from {snapshot.name}",
        report.summary(),
    )


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
    from . import rehearse

    settings = _settings(content, database)
    result = rehearse.rehearse(source or settings.database_url, settings)
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
    from fiml_bot.tutor.ports import StorageUnavailable

    from . import doctor, doctor_against

    settings = _settings(content, database)
    try:
        report = run_doctor(settings)
        if against is not None:
            report.checks.append(doctor_against.CHECK)
            report.problems.extend(doctor_against.check(settings.database_url, against))
    except StorageUnavailable as error:  # exit 2 here, not 1: the doctor could not run
        raise doctor.CannotRun(str(error)) from None
    print(doctor.render_json(report) if as_json else doctor.render_text(report))
    if textfile is not None:
        write_doctor_textfile(textfile, len(report.problems))
    doctor_alert(settings.database_url, len(report.problems), doctor.render_text(report))
    raise typer.Exit(report.exit_code)


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
