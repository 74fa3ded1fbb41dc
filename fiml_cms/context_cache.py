"""What `validate FILE` needs of every other lesson, cached by blob sha under `.git/`.

Validating one file still needs the whole repository as context (ids, prerequisites, cycles, paths),
but only a few facts of each other file: its id, `replaces`, prerequisites, `retired`, or a path's
lessons. Those depend on the file's bytes alone, so they are cached under the file's git blob sha
(`git ls-files -s`, or hashed here for files changed since the index): a cached fact is looked up by
the content it was derived from, so an edit anywhere changes the key and can never be served stale.
The cache is also keyed by this code (a stamp of the schemas and the parsing modules), and each save
keeps only the entries the run used, so it does not grow with history.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import rules
from .lesson import LearningPath

CACHE_FILE = Path("fiml-cms") / "validate-context.json"
FORMAT = 1
#: The modules and schemas a cached entry is derived by; any change to them makes a new cache.
_DERIVED_BY = ("document.py", "plain.py", "schema.py", "lesson.py", "yamlfile.py", "sourcefile.py", "bounds.py", "context_cache.py",
               "schemas/lesson.schema.json", "schemas/path.schema.json")


@lru_cache(maxsize=1)
def code_stamp() -> str:
    digest = hashlib.sha1(str(FORMAT).encode())
    here = Path(__file__).resolve().parent
    for name in _DERIVED_BY:
        digest.update(name.encode() + b"\0" + (here / name).read_bytes())
    return digest.hexdigest()


def encode(entry: rules.LessonEntry | rules.PathEntry) -> dict[str, Any]:
    """An entry's content-derived part (its file name is attached again on reading)."""
    if isinstance(entry, rules.LessonEntry):
        summary = entry.lesson
        return {
            "id": entry.id,
            "replaces": list(entry.replaces),
            "lesson": None if summary is None else [summary.id, list(summary.prerequisites), list(summary.replaces), summary.retired],
        }
    path = entry.path
    return {"id": entry.id, "path": None if path is None else [path.id, path.title, path.description, list(path.lessons)]}


def decode(kind_is_path: bool, data: dict[str, Any], file: str, stem: str) -> rules.LessonEntry | rules.PathEntry:
    if kind_is_path:
        path = data["path"]
        learning = None if path is None else LearningPath(path[0], path[1], path[2], tuple(path[3]))
        return rules.PathEntry(file, stem, learning, data["id"])
    lesson = data["lesson"]
    summary = None if lesson is None else rules.LessonSummary(lesson[0], tuple(lesson[1]), tuple(lesson[2]), lesson[3])
    return rules.LessonEntry(file, stem, data["id"], tuple(data["replaces"]), summary)


@dataclass
class ContextCache:
    """Entries by "<kind>:<blob sha>"; `save` writes those used (looked up or added) in this run."""

    file: Path
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    used: dict[str, dict[str, Any]] = field(default_factory=dict)
    added: bool = False

    @classmethod
    def load(cls, git_dir: Path) -> "ContextCache":
        file = git_dir / CACHE_FILE
        try:
            stored = json.loads(file.read_bytes())
        except (OSError, ValueError):
            return cls(file)
        if not isinstance(stored, dict) or stored.get("stamp") != code_stamp() or not isinstance(stored.get("entries"), dict):
            return cls(file)
        return cls(file, stored["entries"])

    def get(self, key: str) -> dict[str, Any] | None:
        found = self.entries.get(key)
        if found is not None:
            self.used[key] = found
        return found

    def put(self, key: str, data: dict[str, Any]) -> None:
        self.used[key] = data
        self.added = True

    def save(self) -> None:
        """Atomically, and only when something was added or dropped; a failure only costs speed."""
        if not self.added and len(self.used) == len(self.entries):
            return
        from . import atomic

        try:
            self.file.parent.mkdir(exist_ok=True)
            atomic.write_bytes(self.file, json.dumps({"stamp": code_stamp(), "entries": self.used}, separators=(",", ":")).encode())
        except OSError:
            pass


def git_dir_of(root: Path) -> Path | None:
    """`<root>/.git` when it is a folder (a plain clone); worktrees and submodules go uncached."""
    candidate = root / ".git"
    return candidate if candidate.is_dir() and os.access(candidate, os.W_OK) else None
