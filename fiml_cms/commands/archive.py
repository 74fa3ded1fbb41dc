"""`fiml-cms archive`: every published version as a file, byte-identical to its tagged blob.

`content/archive/<id>/<version>.yaml` plus `index.json` (id -> version -> blob sha, tag date),
so a deployment without `.git` can serve every version a learner may be pinned to.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .. import atomic
from ..errors import ContentError
from ..findings import Finding
from ..store import Published, git_blob_sha
from ..workspace import Workspace

INDEX = "index.json"
INDEX_SCHEMA = 1
LOCK_FILE = "fiml-archive.lock"


@dataclass
class ArchiveResult:
    folder: Path
    written: list[Path] = field(default_factory=list)
    unchanged: int = 0
    removed: list[Path] = field(default_factory=list)  # stale temp files of interrupted runs
    findings: list[Finding] = field(default_factory=list)

    @property
    def files(self) -> int:
        return len(self.written) + self.unchanged

    @property
    def errors(self) -> int:
        return len(self.findings)

    @property
    def warnings(self) -> int:
        return 0


def _published(ws: Workspace) -> list[Published]:
    return [entry for lesson_id in ws.store.ids() for entry in ws.store.published(lesson_id)]


def _index_document(entries: Iterable[tuple[Published, str]]) -> bytes:
    lessons: dict[str, dict[str, dict[str, str | None]]] = {}
    for entry, blob in entries:
        lessons.setdefault(entry.lesson_id, {})[entry.version] = {
            "blob": blob,
            "date": entry.date,
            "tag": entry.tag,
            "commit": entry.commit,
        }
    return (
        json.dumps({"schema": INDEX_SCHEMA, "lessons": lessons}, indent=2, sort_keys=True) + "\n"
    ).encode()


#: Writes overlap on a thread pool: each is an fsync-ed temp file plus a rename, mostly waiting on the disk.
WRITERS = 8


def archive(
    ws: Workspace, out: Path | None = None, progress: Callable[[int], Callable[[], None]] | None = None
) -> ArchiveResult:
    """Write missing or differing archive files; idempotent, each write atomic; first remove the temp
    files of interrupted runs."""
    folder = out or ws.settings.archive
    result = ArchiveResult(folder)
    with run_lock(ws.repo.git_dir, wait=True):
        for stale in stale_temp_files(folder):  # no other run holds the lock: their writer is gone
            stale.unlink(missing_ok=True)
            result.removed.append(stale)
        _write_archive(ws, folder, result, progress)
    return result


def _write_archive(
    ws: Workspace, folder: Path, result: ArchiveResult, progress: Callable[[int], Callable[[], None]] | None
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    entries = _published(ws)
    advance = progress(len(entries)) if progress else (lambda: None)
    blobs = list(zip(entries, ws.backend.blob_shas(entries)))
    todo = []
    for entry, blob in blobs:
        target = folder / entry.lesson_id / f"{entry.version}.yaml"
        if _same(target, blob):
            result.unchanged += 1
            advance()
        else:
            todo.append((target, entry, blob))
    for parent in {target.parent for target, _, _ in todo}:
        parent.mkdir(parents=True, exist_ok=True)

    def write(job: tuple[Path, Published, str]) -> Path | OSError:
        target, entry, blob = job
        try:
            atomic.write_bytes(target, ws.backend.read(blob, entry))
        except OSError as exc:
            return exc
        return target

    failures: list[tuple[Path, OSError]] = []
    with ThreadPoolExecutor(WRITERS) as pool:
        for (target, _, _), done in zip(todo, pool.map(write, todo)):
            if isinstance(done, OSError):
                failures.append((target, done))
            else:
                result.written.append(done)
            advance()
    if failures:
        target, exc = failures[0]
        raise ContentError(
            f"{target}: cannot be written: {exc.strerror or exc} ({len(failures)} file(s) failed; "
            f"{len(result.written)} written completely, none half-written; run `fiml-cms archive` again)"
        )
    index = folder / INDEX
    document = _index_document(blobs)
    if not index.is_file() or index.read_bytes() != document:
        folder.mkdir(parents=True, exist_ok=True)
        atomic.write_bytes(index, document)
        result.written.append(index)


def check_archive(ws: Workspace, out: Path | None = None) -> ArchiveResult:
    """A finding per missing, extra or differing archive file; changes nothing."""
    folder = out or ws.settings.archive
    result = ArchiveResult(folder)
    entries = _published(ws)
    blobs = list(zip(entries, ws.backend.blob_shas(entries)))
    expected = {folder / entry.lesson_id / f"{entry.version}.yaml": blob for entry, blob in blobs}
    for path, blob in expected.items():
        if not path.is_file():
            result.findings.append(
                _file_finding(
                    "FIML070",
                    f"missing archive file for published {path.parent.name}@{path.stem} (run `fiml-cms archive`)",
                    path,
                )
            )
        elif not _same(path, blob):
            result.findings.append(
                _file_finding(
                    "FIML071",
                    f"differs from the published blob {blob[:12]} of {path.parent.name}@{path.stem}",
                    path,
                )
            )
        else:
            result.unchanged += 1
    if folder.is_dir():
        result.findings.extend(
            _file_finding(
                "FIML072",
                "is not a published version (no tag): run `fiml-cms archive --prune` to remove it, or publish that version",
                path,
            )
            for path in sorted(folder.glob("*/*.yaml"))
            if path not in expected
        )
    index = folder / INDEX
    if not index.is_file() or index.read_bytes() != _index_document(blobs):
        result.findings.append(
            _file_finding("FIML071", "index.json is missing or out of date (run `fiml-cms archive`)", index)
        )
    with run_lock(ws.repo.git_dir, wait=False) as free:
        if free:  # while an archive run holds the lock its temp files are live, not stale
            result.findings.extend(
                _file_finding(
                    "FIML073",
                    "a temporary file left by an interrupted `fiml-cms archive` (the next run removes it)",
                    stale,
                )
                for stale in stale_temp_files(folder)
            )
    return result


def _file_finding(code: str, message: str, path: Path) -> Finding:
    """A finding about a whole archive file (placed at its first line)."""
    return Finding(code, message, _display(path), line=1, column=1)


def stale_temp_files(folder: Path) -> list[Path]:
    """Temp files of atomic writes in the archive folder and its lesson folders."""
    if not folder.is_dir():
        return []
    return atomic.temp_files(folder, ".*.tmp") + atomic.temp_files(folder, "*/.*.tmp")


@contextlib.contextmanager
def run_lock(git_dir: Path, *, wait: bool) -> Iterator[bool]:
    """An exclusive lock on `<git dir>/fiml-archive.lock` for one archive run; yields whether it was got.

    The kernel releases it when its holder dies (even by kill -9), so whoever holds it knows that
    every temp file it did not create was left by a run that is gone.
    """
    import fcntl

    with open(git_dir / LOCK_FILE, "a+b") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _same(path: Path, blob: str) -> bool:
    try:
        return git_blob_sha(path.read_bytes()) == blob
    except OSError:
        return False


def _display(path: Path) -> str:
    from .validate import display_name

    return display_name(path)


def refresh_hint(ws: Workspace) -> str | None:
    """After a tag: when the repository keeps an archive that no longer matches what is published, the
    exact commands that bring it up to date (`archive --check` in CI fails until they run), else None."""
    folder = ws.settings.archive
    if not (folder / "index.json").is_file():
        return None
    ws.store.refresh()  # the tag just made
    if not check_archive(ws).findings:
        return None
    relative = ws.repo.relative(folder)
    return (
        f"the archive ({relative}) does not hold what is published now (`fiml-cms archive --check` fails in CI): "
        f'run `fiml-cms archive && git add {relative} && git commit -m "Archive the published versions"`'
    )
