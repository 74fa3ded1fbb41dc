"""`db restore` on PostgreSQL: stage the snapshot in a schema of its own, then swap schemas in one
transaction.

A dump holds its schema's name, and pg_restore cannot rename it, so the snapshot goes first into a
temporary database (`fiml_restore_<id>`), where it is checked against its manifest, upgraded and its
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

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.engine import URL

from fiml_bot.storage import migrations_api
from fiml_bot.storage.database import describe, make_engine, parse_url, storage_errors

from . import identity, pgtools, recovery, snapshots
from .errors import OpsError
from .killpoints import point
from .pgtools import sql_literal
from .restore import Plan, RestoreReport, check_file, merge_or_quarantine, record_switch


def _q(name: str) -> str:
    return f'"{name}"'


def run(plan: Plan, report: RestoreReport) -> None:
    rid = plan.restore_id
    staging, old, tempdb = f"fiml_restore_new_{rid}", f"fiml_restore_old_{rid}", f"fiml_restore_{rid}"
    lock = int(rid, 16)
    parsed = parse_url(plan.url)
    engine = make_engine(plan.url)
    try:
        with storage_errors(describe(plan.url)), engine.connect() as connection:
            schema, version, comment = _prepare(connection, plan)
            workdir = Path(tempfile.gettempdir()) / f"fiml-restore-{rid}"  # created once marked
            mark = recovery.marker(rid, schema, str(parsed.database), tempdb, str(workdir), lock)
            connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock})
            connection.execute(text(f"CREATE SCHEMA {_q(staging)}"))
            connection.execute(text(f"COMMENT ON SCHEMA {_q(staging)} IS {sql_literal(mark)}"))
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
    schema = connection.execute(text("SELECT current_schema()")).scalar_one()
    if schema is None:
        raise OpsError(f"the database URL {describe(plan.url)} names no existing schema in its search_path")
    version = snapshots.server_version(connection)
    pgtools.check_client("pg_restore", version)
    comment = connection.execute(
        text("SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = :s"),
        {"s": schema},
    ).scalar_one()
    connection.commit()
    return str(schema), version, comment


def _terminator(engine: Engine, connection: Connection) -> Callable[[], None]:
    """For the kill test: terminate this restore's connection from another one."""
    pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    connection.commit()

    def terminate() -> None:
        with engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
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
        connection.execute(text(f"CREATE DATABASE {_q(tempdb)}"))
    point("pg:tempdb")
    # the dump recreates its own schema's name, whatever the live one is called (staging renames it)
    dumped = plan.manifest.pg_schema or schema
    temp_url = parsed.set(database=tempdb).update_query_dict({"options": f"-csearch_path={dumped}"})
    temp_engine = make_engine(temp_url)
    try:
        if dumped != "public":
            with temp_engine.begin() as temp:
                temp.execute(text(f"CREATE SCHEMA {_q(dumped)}"))
        pgtools.restore(temp_url, plan.manifest.path, version, workdir)
        point("pg:restored-aside")
        with temp_engine.connect() as temp:
            check_file(temp, plan.manifest)
            temp.rollback()
        point("pg:checked")
        if plan.before is not None:
            report.safety = snapshots.take(
                plan.url, folder=plan.folder, label="pre-restore", content=plan.content
            )
            point("pg:safety")
        target = plan.upgrade_target()
        if target is not None:
            migrations_api.upgrade(temp_url.render_as_string(hide_password=False), target)
            report.upgraded_to = target
            point("pg:upgraded")
        with temp_engine.begin() as temp:
            temp.execute(text(f"ALTER SCHEMA {_q(dumped)} RENAME TO {_q(staging)}"))
        dump = workdir / "staged.dump"
        pgtools.dump(temp_url, staging, dump, version)
        point("pg:dumped")
    finally:
        temp_engine.dispose()
    pgtools.restore(parsed, dump, version, workdir)
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
        if live:
            tables = ", ".join(f"{_q(schema)}.{_q(t)}" for t in live)
            connection.execute(text(f"LOCK TABLE {tables} IN EXCLUSIVE MODE"))
        point("pg:locked", terminate)
        identity.keep_identity(connection, staging, plan.live_id)
        if live:
            merge_or_quarantine(connection, plan, report, target=staging, side=schema)
        point("pg:merged", terminate)
        record_switch(connection, staging, plan.restore_id)
        connection.execute(text(f"ALTER SCHEMA {_q(schema)} RENAME TO {_q(old)}"))
        connection.execute(text(f"ALTER SCHEMA {_q(staging)} RENAME TO {_q(schema)}"))
        connection.execute(text(f"COMMENT ON SCHEMA {_q(old)} IS {sql_literal(mark)}"))
        original = "NULL" if comment is None else sql_literal(comment)
        connection.execute(text(f"COMMENT ON SCHEMA {_q(schema)} IS {original}"))
        point("pg:switched", terminate)


def _cleanup(engine: Engine, schema: str, restore_id: str) -> None:
    """Drop this restore's scratch on a fresh connection (the restore's own may have been terminated)."""
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        for name, data in recovery.marked_schemas(connection, schema):
            if data.get(recovery.MARKER_KEY) == restore_id:
                recovery.drop_scratch(connection, name, data)
