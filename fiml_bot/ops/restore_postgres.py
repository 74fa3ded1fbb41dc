"""`db restore` on PostgreSQL: stage the snapshot in a schema of its own, then swap schemas in one
transaction.

A dump holds its schema's name, and pg_restore cannot rename it, so the snapshot goes first into a
temporary database (`fiml_restore_<live database's oid>_<id>`), where it is checked against its manifest, upgraded and its
schema renamed to the staging name; a second dump of that brings it into the live database as the
staging schema (`fiml_restore_new_<id>`). Then one transaction locks the live tables against writers
(EXCLUSIVE: readers go on), merges the live rows into the staging schema and renames the two schemas:
the staging one becomes the live one. A writer waiting on a lock re-resolves its table by name when
it gets it, so it writes into the restored tables. The old schema is dropped afterwards.

Every piece of scratch is named in a JSON comment on the staging (later: old) schema, created before
any of it, and the restore holds a session advisory lock: see `recovery.py`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Connection, Engine, inspect
from sqlalchemy.engine import URL

from fiml_bot.storage import migrations_api, pg_admin
from fiml_bot.storage.database import describe, make_engine, parse_url, storage_errors

from . import identity, pgtools, recovery, snapshots
from .errors import OpsError
from .killpoints import point
from .restore import Plan, RestoreReport, check_file, merge_or_quarantine, record_switch


def run(plan: Plan, report: RestoreReport) -> None:
    rid = plan.restore_id
    staging, old = f"fiml_restore_new_{rid}", f"fiml_restore_old_{rid}"
    lock = int(rid, 16)
    parsed = parse_url(plan.url)
    engine = make_engine(plan.url)
    try:
        with storage_errors(describe(plan.url)), engine.connect() as connection:
            schema, version, comment = _prepare(connection, plan)
            # server-wide scratch is named by the live database's OID too: whose it is shows in the name
            oid = pg_admin.database_oid(connection)
            tempdb = f"fiml_restore_{oid}_{rid}"
            workdir = Path(tempfile.gettempdir()) / f"fiml-restore-{oid}-{rid}"  # created once marked
            mark = recovery.marker(
                rid, schema, str(parsed.database), tempdb, str(workdir), lock, str(plan.folder)
            )
            pg_admin.advisory_lock(connection, lock)
            pg_admin.create_schema(connection, staging)
            pg_admin.comment_on_schema(connection, staging, mark)
            connection.commit()
            terminate = _terminator(engine, connection)
            try:
                point("pg:marked", terminate)
                workdir.mkdir(mode=0o700)
                _stage(plan, report, parsed, schema, staging, tempdb, version, workdir, engine)
                point("pg:staged", terminate)
                _switch(connection, plan, report, schema, staging, old, mark, comment, terminate)
                point("pg:committed", terminate)
            finally:
                _cleanup(engine, schema, rid)
            point("pg:cleaned")
    finally:
        engine.dispose()


def _prepare(connection: Connection, plan: Plan) -> tuple[str, int, str | None]:
    schema = pg_admin.current_schema(connection)
    if schema is None:
        raise OpsError(f"the database URL {describe(plan.url)} names no existing schema in its search_path")
    version = snapshots.server_version(connection)
    pgtools.check_client("pg_restore", version, plan.pg_bindir)
    comment = pg_admin.schema_comment(connection, schema)
    connection.commit()
    return str(schema), version, comment


def _terminator(engine: Engine, connection: Connection) -> Callable[[], None]:
    """For the kill test: terminate this restore's connection from another one."""
    pid = pg_admin.backend_pid(connection)
    connection.commit()

    def terminate() -> None:
        with engine.connect() as other:
            pg_admin.terminate_backend(other, pid)
            other.commit()

    return terminate


def _stage(
    plan: Plan,
    report: RestoreReport,
    parsed: URL,
    schema: str,
    staging: str,
    tempdb: str,
    version: int,
    workdir: Path,
    engine: Engine,
) -> None:
    """The snapshot, checked and upgraded, as the staging schema of the live database."""
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        pg_admin.create_database(connection, tempdb)
    point("pg:tempdb")
    # the dump recreates its own schema's name, whatever the live one is called (staging renames it)
    dumped = plan.manifest.pg_schema or schema
    temp_url = parsed.set(database=tempdb).update_query_dict({"options": f"-csearch_path={dumped}"})
    temp_engine = make_engine(temp_url)
    try:
        if dumped != "public":
            with temp_engine.begin() as temp:
                pg_admin.create_schema(temp, dumped)
        pgtools.restore(temp_url, plan.manifest.path, version, workdir, bindir=plan.pg_bindir)
        point("pg:restored-aside")
        with temp_engine.connect() as temp:
            check_file(temp, plan.manifest)
            temp.rollback()
        point("pg:checked")
        if plan.before is not None:
            report.safety = snapshots.take(
                plan.url,
                folder=plan.folder,
                label="pre-restore",
                content=plan.content,
                pg_bindir=plan.pg_bindir,
            )
            point("pg:safety")
        target = plan.upgrade_target()
        if target is not None:
            migrations_api.upgrade(temp_url.render_as_string(hide_password=False), target)
            report.upgraded_to = target
            point("pg:upgraded")
        with temp_engine.begin() as temp:
            pg_admin.rename_schema(temp, dumped, staging)
        dump = workdir / "staged.dump"
        pgtools.dump(temp_url, staging, dump, version, bindir=plan.pg_bindir)
        point("pg:dumped")
    finally:
        temp_engine.dispose()
    pgtools.restore(parsed, dump, version, workdir, bindir=plan.pg_bindir)
    live_target = plan.live_upgrade_target()
    if live_target is not None:
        migrations_api.upgrade(plan.url, live_target)


def _switch(
    connection: Connection,
    plan: Plan,
    report: RestoreReport,
    schema: str,
    staging: str,
    old: str,
    mark: str,
    comment: str | None,
    terminate: Callable[[], None],
) -> None:
    with connection.begin():
        live = inspect(connection).get_table_names(schema=schema)
        pg_admin.lock_exclusive(connection, schema, live)
        point("pg:locked", terminate)
        identity.keep_identity(connection, staging, plan.live_id)
        if live:
            merge_or_quarantine(connection, plan, report, target=staging, side=schema)
        point("pg:merged", terminate)
        record_switch(connection, staging, plan.restore_id)
        pg_admin.rename_schema(connection, schema, old)
        pg_admin.rename_schema(connection, staging, schema)
        pg_admin.comment_on_schema(connection, old, mark)
        pg_admin.comment_on_schema(connection, schema, comment)
        point("pg:switched", terminate)


def _cleanup(engine: Engine, schema: str, restore_id: str) -> None:
    """Drop this restore's scratch on a fresh connection (the restore's own may have been terminated)."""
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        for name, data in recovery.marked_schemas(connection, schema):
            if data.get(recovery.MARKER_KEY) == restore_id:
                recovery.drop_scratch(connection, name, data)
