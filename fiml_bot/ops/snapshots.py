"""Snapshots of the progress store: a consistent copy of the database and a manifest beside it.

SQLite is copied with the online backup API (consistent while the bot writes); PostgreSQL with
`pg_dump -Fc` of the application's schema, inside a repeatable-read transaction whose snapshot the
dump shares, so the manifest's row counts and XP sum describe exactly the rows in the dump. Files are
created 0600 in a 0700 folder (they hold personal data) and appear atomically: a snapshot without
its manifest is an interrupted one and is never listed; while a snapshot is being written its temp
file is locked (flock), so the next snapshot removes an interrupted one's temp file and no other.

A manifest is input like any other file: `read_manifest` checks every field's type and that the file
it names lies in its own folder, so a hostile or damaged manifest is reported and skipped.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from fiml_bot import __version__
from fiml_bot.storage import pg_admin, table_counts
from fiml_bot.storage.database import describe, make_engine, parse_url, sqlite_path, storage_errors
from fiml_bot.storage.migrations_api import revision_of
from fiml_cms.atomic import write_bytes

from . import identity as identities
from .errors import OpsError
from .killpoints import point

DEFAULT_FOLDER = Path("var/snapshots")
DATA_TABLES = (
    "learners",
    "lesson_progress",
    "completions",
    "xp_ledger",
    "badges",
    "processed_events",
    *("quiz_answers", "scheduled_messages", "learner_settings"),  # 0009 (counted where present)
)
MANIFEST_FORMAT = 1


@dataclass(frozen=True)
class Manifest:
    """What a snapshot holds, written beside it as `<stem>.json`."""

    file: str  # the snapshot's file name, in the same folder as the manifest
    kind: str  # "sqlite" | "postgresql"
    schema_revision: str | None
    code_version: str
    content_ref: str | None
    created_at: str  # ISO 8601, UTC
    sha256: str
    row_counts: dict[str, int]
    xp_ledger_sum: int
    source: str  # the database URL, without its password
    label: str = "manual"  # manual | pre-upgrade | pre-downgrade | pre-restore | ...
    pg_schema: str | None = None
    database_id: str | None = None  # the source database's identity (None before revision 0006)
    format: int = MANIFEST_FORMAT
    folder: Path = field(default=Path("."), compare=False)

    @property
    def path(self) -> Path:
        return self.folder / self.file

    @property
    def manifest_path(self) -> Path:
        return self.folder / f"{Path(self.file).stem}.json"

    def to_json(self) -> str:
        data = asdict(self)
        del data["folder"]
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @property
    def source_key(self) -> str:
        """Which database the snapshot belongs to: its identity, else (older manifests) its URL."""
        return f"id:{self.database_id}" if self.database_id else f"url:{self.source}"


def snapshot_folder(env: Mapping[str, str], out: Path | None = None) -> Path:
    """`out`, else FIML_SNAPSHOT_DIR, else var/snapshots."""
    from ..settings import SNAPSHOT_DIR

    if out is not None:
        return out
    value = SNAPSHOT_DIR.read(env)
    return Path(value) if value else DEFAULT_FOLDER


def private_folder(folder: Path) -> Path:
    """Create the folder 0700 (and tighten an existing one we own)."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.chmod(folder, 0o700)
    except PermissionError:
        pass
    return folder


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_private(path: Path, data: bytes) -> None:
    """Write `path` atomically with mode 0600: a snapshot's manifest describes personal data."""
    write_bytes(path, data, mode=0o600)


TEMP_PREFIX = ".snapshot."


@contextmanager
def _temp_private(folder: Path, suffix: str) -> Iterator[Path]:
    """A new, empty 0600 file in `folder`, removed unless the caller renamed it away; locked while
    it lives, so `remove_interrupted` can tell an abandoned one (its process died) from a busy one."""
    remove_interrupted(folder)
    fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=suffix, dir=folder)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.chmod(name, 0o600)
        path = Path(name)
        try:
            yield path
        finally:
            path.unlink(missing_ok=True)
            Path(f"{name}-journal").unlink(missing_ok=True)
    finally:
        os.close(fd)


def remove_interrupted(folder: Path) -> list[Path]:
    """Delete the temp files (and their SQLite -journal) of snapshots whose process died; they hold
    personal data. A temp file whose lock is held belongs to a running snapshot and stays."""
    removed = []
    for path in sorted(folder.glob(f"{TEMP_PREFIX}*")) if folder.is_dir() else []:
        base = Path(str(path).removesuffix("-journal"))
        if base != path and base.exists():
            continue  # removed with its database file
        try:
            fd = os.open(base, os.O_RDONLY) if base.exists() else None
        except OSError:
            continue
        try:
            if fd is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
            for doomed in (base, Path(f"{base}-journal")):
                if doomed.exists():
                    doomed.unlink(missing_ok=True)
                    removed.append(doomed)
        finally:
            if fd is not None:
                os.close(fd)
    return removed


def content_ref(content: Path | None) -> str | None:
    """The content repository's HEAD commit, when it is a git repository."""
    if content is None or not (content / ".git").exists():
        return None
    from fiml_cms.gitrepo import GitRepo

    try:
        with GitRepo(content) as repo:
            return repo.head()
    except Exception:  # an unreadable repository is not a reason to skip the snapshot
        return None


def counts(connection: Connection) -> tuple[dict[str, int], int]:
    """Row counts of the data tables that exist, and the XP ledger's sum."""
    return table_counts.row_counts(connection, DATA_TABLES)


def _stamp(now: dt.datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%S%fZ")


def take(
    url: str, *, folder: Path, label: str = "manual", content: Path | None = None, pg_bindir: str = ""
) -> Manifest:
    """Snapshot the database at `url` into `folder`; returns the manifest (already written).
    `pg_bindir`: where pg_dump is (the FIML_PG_BINDIR setting; "" for PATH)."""
    private_folder(folder)
    parsed = parse_url(url)
    now = dt.datetime.now(dt.UTC)
    if parsed.get_backend_name() == "sqlite":
        return _take_sqlite(url, folder, label, content, now)
    return _take_postgres(url, folder, label, content, now, pg_bindir)


def _finish(temp: Path, folder: Path, stem: str, suffix: str, **fields: object) -> Manifest:
    final = folder / f"{stem}{suffix}"
    manifest = Manifest(file=final.name, sha256=sha256_of(temp), folder=folder, **fields)  # type: ignore[arg-type]
    os.replace(temp, final)
    write_private(manifest.manifest_path, manifest.to_json().encode())
    return manifest


def _take_sqlite(url: str, folder: Path, label: str, content: Path | None, now: dt.datetime) -> Manifest:
    source = sqlite_path(url)
    if source is None or not source.is_file():
        raise OpsError(f"the database file {source} does not exist: there is nothing to snapshot")
    with _temp_private(folder, ".sqlite") as temp:
        copy_sqlite(source, temp)
        point("snapshot:copied")
        engine = make_engine(f"sqlite:///{temp}")
        try:
            with engine.connect() as connection:
                revision = revision_of(connection)
                rows, xp = counts(connection)
                database_id = identities.identity_of(connection)
        finally:
            engine.dispose()
        stem = f"fiml-{_stamp(now)}-{revision or 'empty'}-{label}"
        return _finish(
            temp,
            folder,
            stem,
            ".sqlite",
            kind="sqlite",
            schema_revision=revision,
            code_version=__version__,
            content_ref=content_ref(content),
            created_at=now.isoformat(),
            row_counts=rows,
            xp_ledger_sum=xp,
            source=describe(url),
            label=label,
            database_id=database_id,
        )


def copy_sqlite(source: Path, target: Path, *, self_contained: bool = True) -> None:
    """Copy a SQLite database through the online backup API (consistent while others write).

    `self_contained`: leave the copy in rollback-journal mode, one file with no -wal beside it.
    """
    src = sqlite3.connect(str(source), timeout=30)
    try:
        dst = sqlite3.connect(str(target), timeout=30)
        try:
            src.backup(dst)
            if self_contained:
                dst.execute("PRAGMA journal_mode = DELETE")
        finally:
            dst.close()
    except sqlite3.Error as error:
        raise OpsError(f"cannot copy the SQLite database {source} to {target}: {error}") from None
    finally:
        src.close()


def server_version(connection: Connection) -> int:
    return pg_admin.server_version(connection)


def _take_postgres(
    url: str, folder: Path, label: str, content: Path | None, now: dt.datetime, pg_bindir: str
) -> Manifest:
    from . import pgtools

    parsed = parse_url(url)
    engine = make_engine(url)
    try:
        with storage_errors(describe(url)), engine.connect() as connection:
            exported = pg_admin.export_snapshot(connection)
            schema = pg_admin.current_schema(connection)
            if schema is None:
                raise OpsError(
                    f"the database URL {describe(url)} names no existing schema in its search_path"
                )
            version = server_version(connection)
            revision = revision_of(connection)
            rows, xp = counts(connection)
            database_id = identities.identity_of(connection)
            with _temp_private(folder, ".dump") as temp:
                pgtools.dump(parsed, schema, temp, version, snapshot=exported, bindir=pg_bindir)
                point("snapshot:copied")
                stem = f"fiml-{_stamp(now)}-{revision or 'empty'}-{label}"
                manifest = _finish(
                    temp,
                    folder,
                    stem,
                    ".dump",
                    kind="postgresql",
                    schema_revision=revision,
                    code_version=__version__,
                    content_ref=content_ref(content),
                    created_at=now.isoformat(),
                    row_counts=rows,
                    xp_ledger_sum=xp,
                    source=describe(url),
                    label=label,
                    pg_schema=schema,
                    database_id=database_id,
                )
            connection.rollback()
            return manifest
    finally:
        engine.dispose()


_OPTIONAL_TEXT = ("schema_revision", "content_ref", "pg_schema", "database_id")
_TEXT = ("file", "kind", "code_version", "created_at", "sha256", "source", "label")


def _checked(data: dict[str, Any], where: Path) -> dict[str, Any]:
    """The manifest's fields, each of the type it must have; OpsError naming the first bad field."""
    known = {f.name for f in fields(Manifest)} - {"folder"}
    unexpected = sorted(set(data) - known)
    if unexpected:
        raise OpsError(f"{where}: unexpected manifest field {unexpected[0]!r}")
    for name in _TEXT:
        if not isinstance(data.get(name), str):
            raise OpsError(f"{where}: field {name!r} must be a string, found {type(data.get(name)).__name__}")
    for name in _OPTIONAL_TEXT:
        if data.get(name) is not None and not isinstance(data[name], str):
            raise OpsError(f"{where}: field {name!r} must be a string or null")
    file = data["file"]
    if file in ("", ".", "..") or Path(file).name != file or "\\" in file or "\x00" in file:
        raise OpsError(f"{where}: field 'file' must name a file in the manifest's own folder, found {file!r}")
    if data["kind"] not in ("sqlite", "postgresql"):
        raise OpsError(f"{where}: field 'kind' must be sqlite or postgresql, found {data['kind']!r}")
    rows = data.get("row_counts")
    if not isinstance(rows, dict) or not all(
        isinstance(k, str) and type(v) is int and v >= 0 for k, v in rows.items()
    ):
        raise OpsError(f"{where}: field 'row_counts' must map table names to row counts")
    if type(data.get("xp_ledger_sum")) is not int:
        raise OpsError(f"{where}: field 'xp_ledger_sum' must be an integer")
    return data


def read_manifest(path: Path) -> Manifest:
    """The manifest of a snapshot, given the snapshot file or its manifest."""
    manifest_path = path if path.suffix == ".json" else path.with_suffix(".json")
    try:
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OpsError(
            f"{path}: no manifest {manifest_path.name} beside it: not a snapshot made by `fiml-bot db snapshot`"
        ) from None
    except (OSError, ValueError) as error:
        raise OpsError(f"{manifest_path}: unreadable manifest: {error}") from None
    except RecursionError:
        raise OpsError(f"{manifest_path}: unreadable manifest: nested too deeply") from None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise OpsError(f"{manifest_path}: not a snapshot manifest of format {MANIFEST_FORMAT}")
    manifest = Manifest(folder=manifest_path.parent, **_checked(data, manifest_path))
    if path.suffix != ".json" and path.name != manifest.file:
        raise OpsError(f"{manifest_path}: describes {manifest.file}, not {path.name}")
    return manifest


def verify(manifest: Manifest) -> None:
    """Refuse a snapshot whose file is missing or differs from its manifest's sha256."""
    if not manifest.path.is_file():
        raise OpsError(f"{manifest.manifest_path}: its snapshot file {manifest.file} is missing")
    if sha256_of(manifest.path) != manifest.sha256:
        raise OpsError(
            f"{manifest.path}: sha256 differs from its manifest: the file was changed or is incomplete"
        )


@dataclass
class Scan:
    """A folder's snapshots, oldest first, and the manifests that could not be read (path, reason)."""

    manifests: list[Manifest]
    unreadable: list[tuple[Path, str]]


def scan(folder: Path) -> Scan:
    found, bad = [], []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            found.append(read_manifest(path))
        except OpsError as error:
            bad.append((path, str(error).removeprefix(f"{path}: ")))
    return Scan(sorted(found, key=lambda m: (m.created_at, m.file)), bad)


def listing(folder: Path) -> list[Manifest]:
    """The snapshots in `folder`, oldest first (manifests that cannot be read are skipped)."""
    return scan(folder).manifests


def prune(folder: Path, keep: int, *, dry_run: bool = False) -> list[Manifest]:
    """Delete all but the newest `keep` snapshots of each source database (file and manifest); returns
    the deleted ones (with `dry_run`, the ones it would delete). A snapshot of another database in a
    shared folder counts against its own database's `keep`, never against this one's."""
    by_source: dict[str, list[Manifest]] = {}
    for manifest in listing(folder):
        by_source.setdefault(manifest.source_key, []).append(manifest)
    doomed = [m for group in by_source.values() for m in group[: max(len(group) - keep, 0)]]
    doomed.sort(key=lambda m: (m.created_at, m.file))
    for manifest in [] if dry_run else doomed:
        manifest.path.unlink(missing_ok=True)
        manifest.manifest_path.unlink(missing_ok=True)
    return doomed
