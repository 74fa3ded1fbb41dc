"""`fiml-cms archive`: every published version as a file, byte-identical to its tagged blob.

`content/archive/<id>/<version>.yaml` plus `index.json` (id -> version -> blob sha, tag date),
so a deployment without `.git` can serve every version a learner may be pinned to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from .. import atomic
from ..errors import ContentError
from ..findings import Finding
from ..store import Published, git_blob_sha
from ..workspace import Workspace

INDEX = "index.json"
INDEX_SCHEMA = 1


@dataclass
class ArchiveResult:
    folder: Path
    written: list[Path] = field(default_factory=list)
    unchanged: int = 0
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
        lessons.setdefault(entry.lesson_id, {})[entry.version] = {"blob": blob, "date": entry.date, "tag": entry.tag, "commit": entry.commit}
    return (json.dumps({"schema": INDEX_SCHEMA, "lessons": lessons}, indent=2, sort_keys=True) + "\n").encode()


#: Writes overlap on a thread pool: each is an fsync-ed temp file plus a rename, mostly waiting on the disk.
WRITERS = 8


def archive(ws: Workspace, out: Path | None = None, progress: Callable[[int], Callable[[], None]] | None = None) -> ArchiveResult:
    """Write missing or differing archive files; idempotent, each write atomic."""
    from concurrent.futures import ThreadPoolExecutor

    folder = out or ws.settings.archive
    result = ArchiveResult(folder)
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
    return result


def check_archive(ws: Workspace, out: Path | None = None) -> ArchiveResult:
    """A finding per missing, extra or differing archive file; changes nothing."""
    folder = out or ws.settings.archive
    result = ArchiveResult(folder)
    entries = _published(ws)
    blobs = list(zip(entries, ws.backend.blob_shas(entries)))
    expected = {folder / entry.lesson_id / f"{entry.version}.yaml": blob for entry, blob in blobs}
    for path, blob in expected.items():
        name = _display(path)
        if not path.is_file():
            result.findings.append(Finding("FIML070", f"missing archive file for published {path.parent.name}@{path.stem} (run `fiml-cms archive`)", name, line=1, column=1))
        elif not _same(path, blob):
            result.findings.append(Finding("FIML071", f"differs from the published blob {blob[:12]} of {path.parent.name}@{path.stem}", name, line=1, column=1))
        else:
            result.unchanged += 1
    if folder.is_dir():
        for path in sorted(folder.glob("*/*.yaml")):
            if path not in expected:
                result.findings.append(Finding("FIML072", "is not a published version (no tag): run `fiml-cms archive --prune` to remove it, or publish that version", _display(path), line=1, column=1))
    index = folder / INDEX
    if not index.is_file() or index.read_bytes() != _index_document(blobs):
        result.findings.append(Finding("FIML071", "index.json is missing or out of date (run `fiml-cms archive`)", _display(index), line=1, column=1))
    return result


def _same(path: Path, blob: str) -> bool:
    try:
        return git_blob_sha(path.read_bytes()) == blob
    except OSError:
        return False


def _display(path: Path) -> str:
    from .validate import display_name

    return display_name(path)
