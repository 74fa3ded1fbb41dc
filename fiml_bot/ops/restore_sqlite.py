"""`db restore` on SQLite: stage the snapshot beside the database, then switch in one transaction.

The staged copy (`<db>.restore-<id>`) is checked against its manifest and upgraded; then one
`BEGIN IMMEDIATE` transaction on the live database (other writers wait, up to their busy timeout,
then tell the learner the records are unreachable) merges the live rows into the staged copy and
replaces the live rows with the staged ones. SQLite's own journal makes that switch atomic, and the
file stays the same inode, so a process with the database open (a running chat) keeps writing into
the restored data instead of into an orphaned file, as a rename would have it. An empty database
takes the snapshot whole (the backup API writes it in one transaction too).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from sqlalchemy import create_engine

from fiml_bot.storage import migrations_api, sqlite_attach
from fiml_bot.storage.database import describe, make_engine, sqlite_path, storage_errors

from . import identity, recovery, snapshots
from .killpoints import point
from .restore import Plan, RestoreReport, check_file, merge_or_quarantine, record_switch

STAGED = "restored"  # the staged copy's schema name while attached


def run(plan: Plan, report: RestoreReport) -> None:
    database = sqlite_path(plan.url)
    assert database is not None
    database.parent.mkdir(parents=True, exist_ok=True)
    staged = database.with_name(f"{database.name}.restore-{plan.restore_id}")
    entry = {
        "id": plan.restore_id,
        "snapshot": str(plan.manifest.path),
        "staged": staged.name,
        recovery.SNAPSHOTS_KEY: str(plan.folder),  # where the safety snapshot is taken
        "started_at": dt.datetime.now(dt.UTC).isoformat(),
    }
    point("sqlite:start")
    with recovery.held_journal(database, entry):
        point("sqlite:journal")
        os.close(os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # personal data
        snapshots.copy_sqlite(plan.manifest.path, staged)
        point("sqlite:staged")
        _check(staged, plan)
        point("sqlite:checked")
        if plan.before is None:
            snapshots.copy_sqlite(staged, database, self_contained=False)  # one transaction
            point("sqlite:replaced")
            return
        report.safety = snapshots.take(
            plan.url, folder=plan.folder, label="pre-restore", content=plan.content
        )
        point("sqlite:safety")
        staged_url = f"sqlite:///{staged}"
        target = plan.upgrade_target()
        if target is not None:
            migrations_api.upgrade(staged_url, target)
            report.upgraded_to = target
            point("sqlite:upgraded")
        live_target = plan.live_upgrade_target()
        if live_target is not None:
            migrations_api.upgrade(plan.url, live_target)
        _switch(plan, report, staged)
        point("sqlite:committed")
    point("sqlite:cleaned")


def _check(staged: Path, plan: Plan) -> None:
    engine = create_engine(f"sqlite:///file:{staged}?mode=ro&uri=true")
    try:
        with storage_errors(str(plan.manifest.path)), engine.connect() as connection:
            check_file(connection, plan.manifest)
    finally:
        engine.dispose()


def _switch(plan: Plan, report: RestoreReport, staged: Path) -> None:
    engine = make_engine(plan.url)
    try:
        with storage_errors(describe(plan.url)), engine.connect() as connection:
            sqlite_attach.attach(connection, staged, STAGED)  # outside any transaction
            try:
                with connection.begin():  # BEGIN IMMEDIATE: from here on, writers wait
                    point("sqlite:locked")
                    identity.keep_identity(connection, STAGED, plan.live_id)
                    merge_or_quarantine(connection, plan, report, target=STAGED, side="main")
                    point("sqlite:merged")
                    record_switch(connection, STAGED, plan.restore_id)
                    sqlite_attach.replace_rows(connection, STAGED)
                    point("sqlite:switched")
            finally:
                if connection.in_transaction():
                    connection.rollback()
                sqlite_attach.detach(connection, STAGED)
    finally:
        engine.dispose()
