"""PostgreSQL's own dump tools (`pg_dump -Fc`, `pg_restore`): the one module that runs them.

Connection details go to the tools through libpq's environment variables (PGHOST, PGPASSWORD, ...),
never on the command line, where `ps` would show a password. The client must be at least as new as
the server (pg_dump refuses a newer server); both problems are reported with the package to install.
Where the tools are (`bindir`, the FIML_PG_BINDIR setting) is passed in by the caller, from the
settings the entry point read: this module reads the environment only to hand it on to the tools.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

from sqlalchemy.engine import URL

from ..settings import PG_BINDIR
from .errors import OpsError

INSTALL_HINT = (
    f"install Debian's postgresql-client (apt-get install postgresql-client), or set {PG_BINDIR.name}"
)


def tool(name: str, bindir: str = "") -> str:
    """The path of `pg_dump` or `pg_restore` (in `bindir` when given, else on PATH)."""
    folder = bindir.strip()
    found = shutil.which(name, path=folder) if folder else shutil.which(name)
    if found is None:
        raise OpsError(f"{name} was not found: {INSTALL_HINT}")
    return found


def client_major(name: str, bindir: str = "") -> int:
    return _major_version(tool(name, bindir), name)


@functools.cache
def _major_version(path: str, name: str) -> int:
    """`<path> --version`, asked once per process: a restore checks its clients before every dump and
    restore it runs, and the program at a path does not change version while we run."""
    output = subprocess.run([path, "--version"], capture_output=True, text=True, check=False).stdout
    match = re.search(r"(\d+)(?:\.\d+)?", output)
    if match is None:
        raise OpsError(f"cannot tell the version of {name} from {output.strip()!r}: {INSTALL_HINT}")
    return int(match.group(1))


def check_client(name: str, server_version_num: int, bindir: str = "") -> None:
    """Refuse a client older than the server, naming both versions."""
    server = server_version_num // 10000
    client = client_major(name, bindir)
    if client < server:
        raise OpsError(
            f"{name} is version {client}, older than the PostgreSQL server ({server}): install "
            f"postgresql-client-{server} (or set {PG_BINDIR.name} to its bin folder)"
        )


def libpq_env(url: URL) -> dict[str, str]:
    """The environment that points libpq at `url` (password included, never in argv): this process's
    own, passed on whole, with libpq's variables set."""
    env = dict(os.environ)
    pairs = {
        "PGHOST": url.host,
        "PGPORT": url.port,
        "PGUSER": url.username,
        "PGPASSWORD": url.password,
        "PGDATABASE": url.database,
    }
    for key, value in pairs.items():
        if value is not None:
            env[key] = str(value)
    options = url.query.get("options")
    if options:
        env["PGOPTIONS"] = options if isinstance(options, str) else " ".join(options)
    return env


def _run(argv: list[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise OpsError(f"{what} failed: {'; '.join(detail[-3:]) or f'exit {result.returncode}'}")


def dump(
    url: URL,
    schema: str,
    out: Path,
    server_version_num: int,
    snapshot: str | None = None,
    *,
    bindir: str = "",
) -> None:
    """`pg_dump -Fc` of one schema (the one the application's tables live in) into `out`; with
    `snapshot`, the dump sees exactly what that exported transaction snapshot sees."""
    check_client("pg_dump", server_version_num, bindir)
    argv = [
        tool("pg_dump", bindir),
        "--format=custom",
        "--no-owner",
        "--no-acl",
        f"--schema={schema}",
        f"--file={out}",
    ]
    if snapshot is not None:
        argv.append(f"--snapshot={snapshot}")
    _run(argv, libpq_env(url), "pg_dump")


def restore(url: URL, dump_file: Path, server_version_num: int, workdir: Path, *, bindir: str = "") -> None:
    """`pg_restore` of a dump into the database of `url`, in one transaction, without its CREATE SCHEMA
    (the schema exists: it is the one being restored into)."""
    check_client("pg_restore", server_version_num, bindir)
    env = libpq_env(url)
    listing = subprocess.run(
        [tool("pg_restore", bindir), "--list", str(dump_file)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if listing.returncode != 0:
        raise OpsError(f"pg_restore cannot read {dump_file}: {listing.stderr.strip()}")
    entries = [
        line for line in listing.stdout.splitlines() if not re.match(r"^\d+;\s*\d+\s+\d+\s+SCHEMA\s", line)
    ]
    listed = workdir / "restore.list"
    listed.write_text("\n".join(entries) + "\n", encoding="utf-8")
    argv = [
        tool("pg_restore", bindir),
        "--no-owner",
        "--no-acl",
        "--single-transaction",
        "--exit-on-error",
        f"--use-list={listed}",
        f"--dbname={url.database}",
        str(dump_file),
    ]
    _run(argv, env, "pg_restore")
