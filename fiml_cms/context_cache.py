"""What `validate FILE` needs of every other lesson, cached by blob sha under `.git/`.

Validating one file still needs the whole repository as context (ids, prerequisites, cycles, paths),
but only a few facts of each other file: its id, `replaces`, prerequisites, `retired`, or a path's
lessons. Those depend on the file's bytes alone, so they are cached under the file's git blob sha
(`git ls-files -s`, or hashed here for files changed since the index): a cached fact is looked up by
the content it was derived from, so an edit anywhere changes the key and can never be served stale.
The cache is also keyed by this code (a stamp of the schemas and the parsing modules, and of the
Python version: it is stored with `marshal`, the fastest reader of plain tuples, in `.git/`, which
only this user writes), and each save keeps only the entries the run used, so it does not grow.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import rules
from .lesson import LearningPath

CACHE_FILE = Path("fiml-cms") / "validate-context.marshal"
FORMAT = 2  # 2: a lesson entry keeps why its file cannot be read (FIML037 names it)
#: The modules and schemas a cached entry is derived by; any change to them makes a new cache.
_DERIVED_BY = (
    "document.py",
    "plain.py",
    "schema.py",
    "lesson.py",
    "yamlfile.py",
    "sourcefile.py",
    "bounds.py",
    "context_cache.py",
    "schemas/lesson.schema.json",
    "schemas/path.schema.json",
)


@lru_cache(maxsize=1)
def code_stamp() -> str:
    digest = hashlib.sha1(f"{FORMAT} {sys.version_info[:2]} {marshal.version}".encode())
    here = Path(__file__).resolve().parent
    for name in _DERIVED_BY:
        digest.update(name.encode() + b"\0" + (here / name).read_bytes())
    return digest.hexdigest()


Entry = tuple[Any, ...]


def encode(entry: rules.LessonEntry | rules.PathEntry) -> Entry:
    """An entry's content-derived part as plain tuples (its file name is attached again on reading)."""
    if isinstance(entry, rules.LessonEntry):
        summary = entry.lesson
        summary_data = (
            None
            if summary is None
            else (summary.id, summary.prerequisites, summary.replaces, summary.retired)
        )
        return (entry.id, entry.replaces, summary_data, entry.unreadable)
    path = entry.path
    return (entry.id, None if path is None else (path.id, path.title, path.description, path.lessons))


def decode(kind_is_path: bool, data: Entry, file: str, stem: str) -> rules.LessonEntry | rules.PathEntry:
    if kind_is_path:
        path = data[1]
        return rules.PathEntry(file, stem, None if path is None else LearningPath(*path), data[0])
    summary = data[2]
    return rules.LessonEntry(
        file, stem, data[0], data[1], None if summary is None else rules.LessonSummary(*summary), data[3]
    )


@dataclass
class ContextCache:
    """Entries by "<kind>:<blob sha>"; `save` writes those used (looked up or added) in this run."""

    file: Path
    entries: dict[str, Entry] = field(default_factory=dict)
    used: dict[str, Entry] = field(default_factory=dict)
    added: bool = False

    @classmethod
    def load(cls, git_dir: Path) -> ContextCache:
        file = git_dir / CACHE_FILE
        try:
            stored = marshal.loads(file.read_bytes())
        except (OSError, ValueError, EOFError, TypeError):
            return cls(file)
        if not (
            isinstance(stored, tuple)
            and len(stored) == 2
            and stored[0] == code_stamp()
            and isinstance(stored[1], dict)
        ):
            return cls(file)
        return cls(file, stored[1])

    def get(self, key: str) -> Entry | None:
        found = self.entries.get(key)
        if found is not None:
            self.used[key] = found
        return found

    def put(self, key: str, data: Entry) -> None:
        self.used[key] = data
        self.added = True

    def save(self) -> None:
        """Atomically, and only when something was added or dropped; a failure only costs speed."""
        if not self.added and len(self.used) == len(self.entries):
            return
        from . import atomic

        try:
            self.file.parent.mkdir(exist_ok=True)
            atomic.write_bytes(self.file, marshal.dumps((code_stamp(), self.used)))
        except OSError:
            pass


def git_dir_of(root: Path) -> Path | None:
    """`<root>/.git` when it is a folder (a plain clone); worktrees and submodules go uncached."""
    candidate = root / ".git"
    return candidate if candidate.is_dir() and os.access(candidate, os.W_OK) else None
