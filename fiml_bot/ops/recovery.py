"""Finding and clearing what an interrupted `db restore` left, before any command touches the database.

A restore never leaves the live database half-switched (the switch is one transaction: see
`restore.py`), so what a killed restore leaves is only its scratch: SQLite, the staged copy next to the
database and the journal naming it; PostgreSQL, the staging or old schema (marked with a JSON comment
naming the schema it restores), a temporary database and a work folder. Each holds personal data.

A running restore holds a lock (an flock on the SQLite journal; a session advisory lock on
PostgreSQL), so a command started beside it leaves its scratch alone; a dead one's lock is gone.
Whether the interrupted restore took effect is read from the database itself: the switch records
`restore:<id>` in `processed_events` in the same transaction.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, exc

from fiml_bot.storage import pg_admin, restore_merge
from fiml_bot.storage.database import describe, make_engine, parse_url, sqlite_path, storage_errors
from fiml_bot.storage.errors import DatabaseUrlError

from .snapshots import remove_interrupted

MARKER_KEY = "fiml_restore"
SNAPSHOTS_KEY = "snapshots"  # the folder the restore takes its safety snapshot in
EVENT_PREFIX = "restore:"


def event_key(restore_id: str) -> str:
    return f"{EVENT_PREFIX}{restore_id}"


# SQLite: a journal beside the database file


def sqlite_journal(database: Path) -> Path:
    return database.with_name(f"{database.name}.restore.json")


def staged_files(database: Path, restore_id: str = "") -> list[Path]:
    """The staged copy of a restore (and its -wal, -shm, -journal)."""
    return sorted(database.parent.glob(f"{database.name}.restore-{restore_id}*"))


@contextlib.contextmanager
def held_journal(database: Path, entry: dict[str, Any]) -> Iterator[None]:
    """Write the journal (atomically) and hold its lock for the restore's lifetime; on a normal end
    (success or a clean failure) remove it with the staged files. A killed process leaves both, and
    its lock goes with it."""
    from fiml_cms.atomic import write_bytes

    journal = sqlite_journal(database)
    write_bytes(journal, json.dumps(entry, sort_keys=True).encode(), mode=0o600)
    fd = os.open(journal, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
        for path in staged_files(database, entry["id"]):
            path.unlink(missing_ok=True)
        journal.unlink(missing_ok=True)
    except BaseException:
        for path in staged_files(database, entry["id"]):
            path.unlink(missing_ok=True)
        journal.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)


def _recover_sqlite(url: str, database: Path) -> list[str]:
    journal = sqlite_journal(database)
    if not journal.exists():
        return []
    try:
        fd = os.open(journal, os.O_RDONLY)
    except FileNotFoundError:
        return []
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return []  # a restore is running right now
        try:
            entry = json.loads(journal.read_text(encoding="utf-8"))
            restore_id = str(entry["id"])
        except (OSError, ValueError, KeyError, TypeError):
            entry, restore_id = {}, ""
        removed = [path.name for path in staged_files(database, restore_id)] if restore_id else []
        for path in staged_files(database, restore_id) if restore_id else []:
            path.unlink(missing_ok=True)
        removed += interrupted_safety_snapshot(entry)
        done = bool(restore_id) and _recorded(url, restore_id)
        journal.unlink(missing_ok=True)
    finally:
        os.close(fd)
    return [_message(entry.get("snapshot"), done, removed)]


# PostgreSQL: marked schemas


def marker(
    restore_id: str, schema: str, database: str, tempdb: str, workdir: str, lock: int, snapshots: str
) -> str:
    return json.dumps(
        {
            MARKER_KEY: restore_id,
            "of": schema,
            "database": database,
            "tempdb": tempdb,
            "workdir": workdir,
            "lock": lock,
            SNAPSHOTS_KEY: snapshots,
        },
        sort_keys=True,
    )


def marked_schemas(connection: Connection, schema: str) -> list[tuple[str, dict[str, Any]]]:
    """(schema name, marker) of every restore scratch schema of `schema` in this database."""
    rows = pg_admin.schemas_commented_like(connection, f'%"{MARKER_KEY}": %')
    found = []
    database = pg_admin.current_database(connection)
    for name, comment in rows:
        try:
            data = json.loads(comment)
        except ValueError:
            continue
        if isinstance(data, dict) and data.get("of") == schema and data.get("database") == database:
            found.append((str(name), data))
    return found


def drop_scratch(connection: Connection, name: str, data: dict[str, Any]) -> list[str]:
    """Drop one restore's temporary database, work folder and marked schema (in that order: the
    schema's marker names the others, so it goes last). Runs in autocommit."""
    removed = []
    tempdb = str(data.get("tempdb", ""))
    if tempdb.startswith("fiml_restore_") and pg_admin.database_exists(connection, tempdb):
        pg_admin.drop_database(connection, tempdb)
        removed.append(f"database {tempdb}")
    workdir = Path(str(data.get("workdir", "")))
    if workdir.name.startswith("fiml-restore-") and workdir.is_dir():
        shutil.rmtree(workdir, ignore_errors=True)
        removed.append(str(workdir))
    removed += interrupted_safety_snapshot(data)
    pg_admin.drop_schema(connection, name)
    removed.append(f"schema {name}")
    return removed


def interrupted_safety_snapshot(entry: dict[str, Any]) -> list[str]:
    """The temp files of the safety snapshot a killed restore was taking (in the snapshot folder its
    journal or marker names), removed: they hold personal data. Only files whose process died go
    (`snapshots.remove_interrupted` tells them by their lock)."""
    folder = entry.get(SNAPSHOTS_KEY)
    if not isinstance(folder, str) or not folder:
        return []
    return [str(path) for path in remove_interrupted(Path(folder))]


def _recover_postgres(url: str) -> list[str]:
    engine = make_engine(url)
    messages = []
    try:
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            schema = pg_admin.current_schema(connection)
            if schema is None:
                return []
            for name, data in marked_schemas(connection, schema):
                lock = int(data.get("lock", 0))
                if not pg_admin.try_advisory_lock(connection, lock):
                    continue  # that restore is running right now
                try:
                    removed = drop_scratch(connection, name, data)
                finally:
                    pg_admin.advisory_unlock(connection, lock)
                done = _recorded_on(connection, str(data[MARKER_KEY]))
                messages.append(_message(None, done, removed))
    finally:
        engine.dispose()
    return messages


# both


def _recorded_on(connection: Connection, restore_id: str) -> bool:
    try:
        return restore_merge.event_recorded(connection, event_key(restore_id))
    except exc.DBAPIError:  # no table: an empty database, so the restore did not take effect
        if connection.in_transaction():
            connection.rollback()
        return False


def _recorded(url: str, restore_id: str) -> bool:
    engine = make_engine(url, readers=True)
    try:
        with engine.connect() as connection:
            return _recorded_on(connection, restore_id)
    finally:
        engine.dispose()


def _message(snapshot: object, done: bool, removed: list[str]) -> str:
    what = f" of {snapshot}" if snapshot else ""
    state = (
        "it had completed (the restored data with everything earned since merged back)"
        if done
        else "it had not switched anything: the database is as it was before it"
    )
    left = f"; removed its leftovers: {', '.join(removed)}" if removed else ""
    return f"found an interrupted `db restore`{what}: {state}{left}"


def recover(url: str) -> list[str]:
    """Clear an interrupted restore's scratch; one line per restore found (for the operator)."""
    try:
        parsed = parse_url(url)
    except DatabaseUrlError:
        return []  # the command reports the URL itself
    if parsed.get_backend_name() == "sqlite":
        database = sqlite_path(parsed)
        return [] if database is None else _recover_sqlite(url, database)
    with storage_errors(describe(url)):
        return _recover_postgres(url)


def recover_quietly(url: str) -> None:
    """`recover` before a command runs: what it did goes to stderr; an unreachable database is the
    command's to report, not this check's."""
    from fiml_bot.tutor.ports import StorageUnavailable

    try:
        messages = recover(url)
    except StorageUnavailable:
        return
    except (exc.SQLAlchemyError, OSError) as error:  # e.g. no right to drop: say so, let the command run
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        print(
            f"fiml-bot: warning: cannot clear an interrupted `db restore`'s leftovers: {reason}",
            file=sys.stderr,
        )
        return
    for message in messages:
        print(message, file=sys.stderr)
