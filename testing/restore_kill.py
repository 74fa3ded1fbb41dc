"""Running `fiml-bot` as its own process (in its own process group) for the restore kill tests, and
finding the scratch an interrupted restore could leave behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from sqlalchemy import text

from fiml_bot.storage import pg_admin
from fiml_bot.storage.database import make_engine

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120  # seconds: a restore of a small database never takes this long; the test fails, never hangs


def start(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """`python -m fiml_bot ARGS` started in a new session (a process-group kill stays inside it)."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "fiml_bot", *args],
        cwd=cwd,
        env=environment,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def fiml_bot(
    *args: str, cwd: Path, env: dict[str, str] | None = None, kill_after: float | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m fiml_bot ARGS` run to its end; with `kill_after`, the whole process group is
    SIGKILLed after that many seconds if still running."""
    process = start(*args, cwd=cwd, env=env)
    try:
        out, err = process.communicate("", timeout=kill_after if kill_after is not None else TIMEOUT)
    except subprocess.TimeoutExpired:
        if kill_after is None:
            os.killpg(process.pid, signal.SIGKILL)
            raise
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate(timeout=TIMEOUT)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def temp_folders() -> set[str]:
    """The restore work folders in the temp folder (`fiml-restore-<database oid>-<restore id>`;
    other names there are not this code's)."""
    return {
        p.name
        for p in Path(tempfile.gettempdir()).glob("fiml-restore-*")
        if re.fullmatch(r"fiml-restore-(\d+-)?[0-9a-f]{12}", p.name)
    }


def sqlite_scratch(database: Path, snapshots: Path) -> list[str]:
    """Files a restore or snapshot leaves beside the database or in the snapshot folder."""
    beside = [p.name for p in database.parent.iterdir() if ".restore" in p.name]
    temps = [p.name for p in snapshots.glob(".snapshot.*")] if snapshots.is_dir() else []
    return sorted(beside + temps)


def postgres_scratch(url: str, folders_before: set[str]) -> list[str]:
    """Marked restore schemas of the URL's schema, and the temporary restore databases and temp
    folders (new since `folders_before`) of the URL's database that no marker names. Scratch names
    carry their database's OID: other databases' restores on the same server (other test workers)
    are theirs, not leftovers."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            from fiml_bot.ops.recovery import marked_schemas

            schema = connection.execute(text("SELECT current_schema()")).scalar_one()
            oid = pg_admin.database_oid(connection)
            ours = [f"schema {name}" for name, _ in marked_schemas(connection, schema)]
            comments = " ".join(
                str(c)
                for (c,) in connection.execute(
                    text("SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace")
                )
                if c
            )
            databases = [
                f"database {name}"
                for (name,) in connection.execute(
                    text("SELECT datname FROM pg_database WHERE datname LIKE 'fiml\\_restore\\_%'")
                )
                if name.startswith(f"fiml_restore_{oid}_") and f'"{name}"' not in comments
            ]
            folders = [
                f"folder {name}"
                for name in sorted(temp_folders() - folders_before)
                if name.startswith(f"fiml-restore-{oid}-") and name not in comments
            ]
            return ours + databases + folders
    finally:
        engine.dispose()
