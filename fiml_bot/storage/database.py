"""Database URLs, engines and the translation of driver errors: the one place that configures SQLAlchemy.

SQLite (the default, a file under `var/`) and PostgreSQL (through psycopg 3) are supported. Nothing
connects at import time: `make_engine` is called by whoever wires the application.

SQLite connections run in WAL mode with a busy timeout, foreign keys on and `synchronous=NORMAL`, and
every transaction starts with `BEGIN IMMEDIATE`: writers queue on the lock at the start of a
transaction (waiting up to the busy timeout) instead of failing half-way when a read transaction
tries to write after another writer committed (SQLITE_BUSY_SNAPSHOT, which no timeout can wait out).

That wait is ours, not SQLite's busy handler: the handler sleeps 1, 2, 5, ... up to 100 ms between
two looks at the lock, so a writer in another process that commits short transactions back to back
(the reminder planner, a restore) kept a learner's action waiting for 139-832 ms, each look landing
while the lock was taken again. `BEGIN IMMEDIATE` is retried every `LOCK_POLL` instead, and a
bulk writer leaves the lock free a little longer than that between its transactions.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import URL, make_url

from fiml_bot.tutor.ports import ConcurrentUpdate, StorageUnavailable, StorageUnreachable
from fiml_cms.settings import DATABASE_URL

from .errors import DatabaseUrlError

DEFAULT_URL = "sqlite:///var/fiml.db"  # relative to the working directory
DEFAULT_BUSY_TIMEOUT = 5.0  # seconds a SQLite writer waits for the lock
DEFAULT_CONNECT_TIMEOUT = 5  # seconds to reach a PostgreSQL server
LOCK_POLL = 0.0005  # seconds between two tries at SQLite's write lock (see the module docstring)

UPGRADE_HINT = "run `fiml-bot db upgrade`"

_POSTGRES_NAMES = {"postgres", "postgresql"}
_RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock: retry the action
_MISSING_TABLE_SQLSTATE = "42P01"


def database_url(env: Mapping[str, str]) -> str:
    """The URL from `FIML_DATABASE_URL`, or the SQLite default when it is unset or blank."""
    return DATABASE_URL.read(env) or DEFAULT_URL


URL_FIELD = "the database URL (--database or FIML_DATABASE_URL)"
_ESCAPE_HINT = "percent-encode '@' as %40, ':' as %3A and '/' as %2F in the user name and password"


def parse_url(url: str | URL) -> URL:
    """The URL with PostgreSQL routed to psycopg 3 (`postgres://` and `postgresql://` are accepted).

    An unparsable URL is reported without any of its text: the part that breaks it is usually a
    password with an unescaped '@' or ':', and the error must not print it."""
    try:
        parsed = make_url(url)
    except (exc.ArgumentError, ValueError):
        raise DatabaseUrlError(f"{URL_FIELD} cannot be parsed: {_ESCAPE_HINT}") from None
    if "@" in (parsed.host or "") or "\x00" in str(url):
        raise DatabaseUrlError(f"{URL_FIELD} has an unescaped character in its credentials: {_ESCAPE_HINT}")
    backend = parsed.get_backend_name()
    if parsed.drivername in _POSTGRES_NAMES:
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "postgresql" and parsed.get_driver_name() == "psycopg":
        return parsed
    if backend == "sqlite" and parsed.get_driver_name() == "pysqlite":
        return parsed
    raise DatabaseUrlError(
        f"unsupported database URL {describe(parsed)}: use sqlite:///PATH or postgresql://USER@HOST/DB"
    )


def describe(url: str | URL) -> str:
    """The URL as it may appear in a message or a log line: never with its password. The one
    function every printed database URL goes through."""
    try:
        parsed = make_url(url)
    except (exc.ArgumentError, ValueError):
        return "<unparsable database URL>"
    if "@" in (parsed.host or ""):  # an unescaped '@' in the password: part of it parsed as the host
        return f"{parsed.drivername}://<credentials hidden>"
    return parsed.render_as_string(hide_password=True)


def sqlite_path(url: str | URL) -> Path | None:
    """The file of a file-based SQLite URL (relative to the working directory), else None."""
    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


#: The database holds learners' names and progress: only its owner may read it (exports are 0600 too).
PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700


def ensure_sqlite_folder(url: str | URL) -> None:
    """Create a SQLite file's folder (`var/` for the default URL, 0700) and the empty file (0600) when
    missing, so SQLite (and its -wal and -shm files, which copy the file's mode) never create it
    world-readable. An existing file or folder keeps its mode: the operator may have chosen it."""
    path = sqlite_path(url)
    if path is None:
        return
    if not path.parent.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(PRIVATE_FOLDER)
    _create_private(path)


def _create_private(path: Path) -> None:
    """Create the empty database file 0600 unless it exists; a missing folder stays missing (an outage,
    such as an unmounted volume, must not be papered over with a new empty database)."""
    with contextlib.suppress(FileExistsError, FileNotFoundError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))


def make_engine(
    url: str | URL,
    *,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    connect_timeout: int = DEFAULT_CONNECT_TIMEOUT,
    readers: bool = False,
) -> Engine:
    """An engine for the URL, configured for this application (see the module docstring).

    `readers=True` (SQLite): transactions begin deferred, so a long read (the doctor) takes no
    write lock and the bot's writers keep going under WAL.
    """
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        file = sqlite_path(parsed)
        if file is not None:
            _create_private(file)
        engine = create_engine(parsed, connect_args={"timeout": busy_timeout})
        _configure_sqlite(engine, busy_timeout, immediate=not readers)
        return engine
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = connect_timeout
    return create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)


def _configure_sqlite(engine: Engine, busy_timeout: float, *, immediate: bool = True) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver emits no BEGIN: `_on_begin` does
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A report's read-only snapshot (`reports.READ_ONLY`) and a `readers=` engine begin deferred:
        # they never take the write lock.
        read_only = connection.get_execution_options().get("fiml_read_only", False)
        if immediate and not read_only:
            _begin_immediate(connection, busy_timeout)
        else:
            connection.exec_driver_sql("BEGIN")


def _begin_immediate(connection: Any, busy_timeout: float) -> None:
    """`BEGIN IMMEDIATE`, tried every `LOCK_POLL` seconds for up to `busy_timeout` while another
    connection holds the write lock; the last try goes through SQLAlchemy, which reports a failure."""
    raw = connection.connection.driver_connection
    deadline = time.monotonic() + busy_timeout
    raw.execute("PRAGMA busy_timeout = 0")  # fail at once while locked: this loop does the waiting
    try:
        while time.monotonic() < deadline:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:  # BUSY or an extended BUSY_*
                    break
            time.sleep(LOCK_POLL)
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    finally:
        raw.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")


def translate_error(error: BaseException, where: str) -> Exception | None:
    """The port's exception for a database error (None: not an availability or concurrency problem).

    Lock timeouts, refused or dropped connections and a missing schema are `StorageUnavailable`;
    PostgreSQL's serialization failures and deadlocks are `ConcurrentUpdate`, so the action is retried.
    """
    if isinstance(error, exc.TimeoutError):  # no pooled connection became free
        return StorageUnreachable(f"the database at {where} is unavailable: no free connection ({error})")
    if not isinstance(error, exc.DBAPIError):
        return None
    sqlstate = getattr(error.orig, "sqlstate", None)
    reason = _first_line(error.orig) if error.orig is not None else _first_line(error)
    if sqlstate in _RETRYABLE_SQLSTATES:
        return ConcurrentUpdate(f"the database refused a concurrent transaction: {reason}")
    missing_table = sqlstate == _MISSING_TABLE_SQLSTATE or "no such table" in reason
    if missing_table:
        return StorageUnavailable(
            f"the database at {where} has no progress tables ({reason}): {UPGRADE_HINT}"
        )
    if isinstance(error, (exc.OperationalError, exc.InterfaceError)) or error.connection_invalidated:
        return StorageUnreachable(
            f"the database at {where} is unavailable: {reason} (check FIML_DATABASE_URL or --database, "
            "and that the database server runs)"
        )
    return None


@contextlib.contextmanager
def storage_errors(where: str) -> Iterator[None]:
    """Re-raise database availability and concurrency errors as the tutor port's exceptions."""
    try:
        yield
    except (exc.DBAPIError, exc.TimeoutError) as error:
        translated = translate_error(error, where)
        if translated is None:
            raise
        raise translated from error


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
