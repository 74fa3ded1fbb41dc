"""Snapshots of the progress store: a consistent copy of the database and a manifest beside it.

SQLite is copied with the online backup API (consistent while the bot writes); PostgreSQL with
`pg_dump -Fc` of the application's schema, inside a repeatable-read transaction whose snapshot the
dump shares, so the manifest's row counts and XP sum describe exactly the rows in the dump. Files are
created 0600 in a 0700 folder (they hold personal data) and appear atomically: a snapshot without
its manifest is an interrupted one and is never listed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import Connection, inspect, text

from fiml_bot import __version__
from fiml_bot.storage.database import describe, make_engine, parse_url, sqlite_path, storage_errors
from fiml_bot.storage.migrations_api import revision_of
from fiml_cms.atomic import write_bytes

from .errors import OpsError

DEFAULT_FOLDER = Path("var/snapshots")
FOLDER_VARIABLE = "FIML_SNAPSHOT_DIR"
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


def snapshot_folder(env: dict[str, str] | None = None, out: Path | None = None) -> Path:
    if out is not None:
        return out
    value = (os.environ if env is None else env).get(FOLDER_VARIABLE, "").strip()
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


@contextmanager
def _temp_private(folder: Path, suffix: str) -> Iterator[Path]:
    """A new, empty 0600 file in `folder`, removed unless the caller renamed it away."""
    fd, name = tempfile.mkstemp(prefix=".snapshot.", suffix=suffix, dir=folder)
    os.close(fd)
    os.chmod(name, 0o600)
    path = Path(name)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


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
    present = set(inspect(connection).get_table_names())
    rows = {
        t: int(connection.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one())
        for t in DATA_TABLES
        if t in present
    }
    xp = (
        int(connection.execute(text("SELECT coalesce(sum(amount), 0) FROM xp_ledger")).scalar_one())
        if "xp_ledger" in present
        else 0
    )
    return rows, xp


def _stamp(now: dt.datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%S%fZ")


def take(url: str, *, folder: Path, label: str = "manual", content: Path | None = None) -> Manifest:
    """Snapshot the database at `url` into `folder`; returns the manifest (already written)."""
    private_folder(folder)
    parsed = parse_url(url)
    now = dt.datetime.now(dt.UTC)
    if parsed.get_backend_name() == "sqlite":
        return _take_sqlite(url, folder, label, content, now)
    return _take_postgres(url, folder, label, content, now)


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
        engine = make_engine(f"sqlite:///{temp}")
        try:
            with engine.connect() as connection:
                revision = revision_of(connection)
                rows, xp = counts(connection)
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
    return int(connection.execute(text("SHOW server_version_num")).scalar_one())


def _take_postgres(url: str, folder: Path, label: str, content: Path | None, now: dt.datetime) -> Manifest:
    from . import pgtools

    parsed = parse_url(url)
    engine = make_engine(url)
    try:
        with storage_errors(describe(url)), engine.connect() as connection:
            connection.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
            exported = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            schema = connection.execute(text("SELECT current_schema()")).scalar_one()
            version = server_version(connection)
            revision = revision_of(connection)
            rows, xp = counts(connection)
            with _temp_private(folder, ".dump") as temp:
                pgtools.dump(parsed, schema, temp, version, snapshot=exported)
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
                )
            connection.rollback()
            return manifest
    finally:
        engine.dispose()


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
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise OpsError(f"{manifest_path}: not a snapshot manifest of format {MANIFEST_FORMAT}")
    try:
        return Manifest(folder=manifest_path.parent, **data)
    except TypeError as error:
        raise OpsError(f"{manifest_path}: unexpected manifest fields: {error}") from None


def verify(manifest: Manifest) -> None:
    """Refuse a snapshot whose file is missing or differs from its manifest's sha256."""
    if not manifest.path.is_file():
        raise OpsError(f"{manifest.manifest_path}: its snapshot file {manifest.file} is missing")
    if sha256_of(manifest.path) != manifest.sha256:
        raise OpsError(
            f"{manifest.path}: sha256 differs from its manifest: the file was changed or is incomplete"
        )


def listing(folder: Path) -> list[Manifest]:
    """The snapshots in `folder`, oldest first (manifests that cannot be read are skipped)."""
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            found.append(read_manifest(path))
        except OpsError:
            continue
    return sorted(found, key=lambda m: (m.created_at, m.file))


def prune(folder: Path, keep: int) -> list[Manifest]:
    """Delete all but the newest `keep` snapshots (file and manifest); returns the deleted ones."""
    snapshots = listing(folder)
    doomed = snapshots[: max(len(snapshots) - keep, 0)]
    for manifest in doomed:
        manifest.path.unlink(missing_ok=True)
        manifest.manifest_path.unlink(missing_ok=True)
    return doomed
