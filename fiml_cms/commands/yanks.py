"""Yanking (SPEC §5): withdraw a published version because of an error.

A yank is published like any change: the lesson's next version lists the withdrawn one in
`yanked`. From then on the bot never serves it: learners pinned to it restart on the newest
version with a notice ("version 1.0.0 was withdrawn because of an error"), keeping their XP and
completions. `fiml-cms bump LESSON LEVEL --yank VERSION` does it with a fix;
`fiml-cms yank LESSON VERSION` does it alone (a patch release whose only change is the yank).
"""

from __future__ import annotations

from .. import versions
from ..errors import ContentError, UsageError
from ..lesson import Lesson
from ..workspace import LessonRef, Workspace


def to_add(lesson: Lesson, asked: tuple[str, ...]) -> tuple[str, ...]:
    """The versions of `asked` not yanked yet; each must be in the lesson's changelog."""
    history = [e.version for e in lesson.changelog]
    added: list[str] = []
    for raw in asked:
        version = raw.removeprefix("v")
        if not versions.is_valid(version):
            raise UsageError(f"--yank {raw!r}: not a version like 1.0.0")
        if version not in history:
            raise ContentError(
                f"{lesson.id}: cannot yank {version}: it is not in the changelog (versions: {', '.join(history)})"
            )
        if version not in lesson.yanked and version not in added:
            added.append(version)
    return tuple(added)


def default_message(version: str) -> str:
    return f"Withdrew version {version} because of an error"


def already_yanked(ws: Workspace, ref: LessonRef, version: str) -> str | None:
    """What to say when `version` is already withdrawn in the working tree's lesson (nothing to write)."""
    version = version.removeprefix("v")
    current = ws.worktree_lesson(ref)
    if version in current.yanked:
        return f"{ref.id}: version {version} is already yanked (listed in `yanked` of {current.version}); nothing to do"
    return None


def check_yankable(ws: Workspace, ref: LessonRef, version: str) -> None:
    """`fiml-cms yank` withdraws what learners may have (a published version), and never re-publishes
    the same content under a new number (the current version needs a fix first)."""
    from ..diff import diff_lessons
    from ..versions import Level

    version = version.removeprefix("v")
    known = ws.store.versions(ref.id) if ref.id in ws.store.ids() else []
    if version not in known:
        raise ContentError(
            f"{ref.id}: version {version} is not published (published: {', '.join(known) or 'none'}); only a published version can be yanked"
        )
    current = ws.worktree_lesson(ref)
    if (
        current.version == version
        and diff_lessons(ws.store.get(ref.id, version), current).required is Level.NONE
    ):
        raise ContentError(
            f"{ref.id}: {version} is the current version and the file has no fix yet, so the new version would serve the same content; "
            f'fix the lesson, commit, then `fiml-cms bump {ref.id} auto --yank {version} -m "What was fixed"`'
        )
