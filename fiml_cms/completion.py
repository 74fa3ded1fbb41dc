"""Shell completion of lesson ids and a lesson's versions (`fiml-cms --install-completion`).

Completion runs on every <TAB>, so it reads as little as it can: lesson ids are the lessons folder's
file names (no YAML is parsed), versions are the lesson's tags. A completion never fails loudly: a
folder that is not a content repository completes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def lesson_ids(ctx: Any, incomplete: str) -> list[str]:
    """The ids of the lessons in the configured lessons folder that start with `incomplete`."""
    try:
        folder = _settings(ctx).lessons
        names = sorted({p.stem for p in folder.iterdir() if p.suffix in (".yaml", ".yml")})
    except Exception:  # completion must never print a traceback into the user's prompt
        return []
    return [name for name in names if name.startswith(incomplete)]


def lesson_versions(ctx: Any, incomplete: str) -> list[str]:
    """The published versions of the lesson named earlier on the line, and `worktree`."""
    lesson = (ctx.params or {}).get("lesson")
    if not lesson:
        return []
    choices = [*_versions(ctx, str(lesson)), "worktree"]
    return [choice for choice in choices if choice.startswith(incomplete)]


def lesson_at_version(ctx: Any, incomplete: str) -> list[str]:
    """`LESSON@VERSION`: ids until an `@` is typed, then that lesson's versions."""
    if "@" not in incomplete:
        return [f"{name}@" for name in lesson_ids(ctx, incomplete)]
    lesson, _, prefix = incomplete.partition("@")
    return [f"{lesson}@{v}" for v in _versions(ctx, lesson) if v.startswith(prefix)]


def _versions(ctx: Any, lesson: str) -> list[str]:
    try:
        from .workspace import Workspace

        ws = Workspace(_settings(ctx))
        ref = ws.lesson_ref(lesson)
        return list(reversed(ws.store.versions(ref.id)))  # newest first
    except Exception:  # not a repository, no such lesson, git missing: nothing to offer
        return []


def _settings(ctx: Any) -> Any:
    from .config import load_settings

    lessons = (ctx.params or {}).get("lessons")
    return load_settings(Path.cwd(), Path(lessons) if lessons else None)
