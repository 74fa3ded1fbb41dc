"""`fiml-cms diff`: the semantic changes between two versions of a lesson and the bump they need."""

from __future__ import annotations

from dataclasses import dataclass

from .. import renames
from ..diff import Change, diff_lessons
from ..envelope import dumps
from ..errors import ContentError
from ..versions import Level
from ..workspace import Workspace


@dataclass(frozen=True)
class DiffResult:
    lesson_id: str
    base: str
    target: str
    changes: tuple[Change, ...]

    @property
    def required(self) -> Level:
        return max((c.level for c in self.changes), default=Level.NONE)

    def render(self, fmt: str) -> str:
        if fmt == "json":
            return dumps(
                "fiml-cms/diff",
                {
                    "lesson": self.lesson_id,
                    "from": self.base,
                    "to": self.target,
                    "changes": [{"level": c.level.label, "change": c.what} for c in self.changes],
                    "required": self.required.label,
                },
            )
        lines = [f"{self.lesson_id}: {self.base} -> {self.target}"]
        lines += [f"  {c.level.label:<5}  {c.what}" for c in self.changes] or ["  (no changes)"]
        lines.append(f"required: {self.required.label}")
        return "\n".join(lines)


def diff(ws: Workspace, lesson: str, base: str | None, target: str | None) -> DiffResult:
    """Compare `base` (default: last published) with `target` (default: the working tree)."""
    ref = ws.lesson_ref(lesson)
    if base is None:
        published = renames.last_published(ws, ref)
        if published is None:
            raise ContentError(
                f"lesson {ref.id!r} has no published version to compare with; name one: fiml-cms diff {ref.id} FROM [TO]"
            )
        old, old_label = ws.store.get(published.lesson_id, published.version), published.label(ref.id)
    else:
        old, old_label = ws.lesson_version(ref, base)
    new, new_label = ws.lesson_version(ref, target or "worktree")
    return DiffResult(ref.id, old_label, new_label, diff_lessons(old, new).changes)
