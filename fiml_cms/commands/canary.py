"""Content canaries: publish a lesson version to a share of new starts first, then promote or roll back.

The state lives in the flag file the bot reads (`deploy/flags.json`, flagd's format; see `flagfile`):
`tag --canary N` tags the committed version and writes its canary flag, `canary LESSON N` changes the
share (0 rolls back: the bot then treats the version as withdrawn), `promote` removes the flag, so the
version becomes the plain latest for everyone.
"""

from __future__ import annotations

from pathlib import Path

from .. import flagfile, versions
from ..errors import ContentError, UsageError
from ..flagfile import Canary
from ..workspace import Workspace
from .tagging import PlannedTag, tag_current


def _check_percent(percent: int) -> None:
    if not 0 <= percent <= 100:
        raise UsageError(f"--canary {percent}: give a percentage from 0 to 100")


def tag_canary(
    ws: Workspace, lesson: str, percent: int, flags: Path, pending: bool = False
) -> tuple[PlannedTag, Canary]:
    """Tag the committed version and serve it to `percent` % of new starts; the rest keep the previous latest."""
    _check_percent(percent)
    lesson_id = ws.lesson_ref(lesson).id
    running = flagfile.current_canary(
        flags, lesson_id
    )  # read first: a broken flag file stops us before the tag
    previous = ws.last_published(lesson_id)
    if previous is None:
        raise ContentError(
            f"{lesson_id} has no published version yet: a canary needs one for the other learners; tag it without --canary"
        )
    planned = tag_current(ws, lesson, pending)
    stable = (
        running.stable
        if running is not None and versions.parse(running.stable) < versions.parse(planned.version)
        else previous
    )
    canary = Canary(planned.lesson_id, planned.version, stable, percent)
    flagfile.set_canary(flags, canary)
    return planned, canary


def set_share(ws: Workspace, lesson: str, percent: int, flags: Path) -> tuple[Canary, Canary]:
    """Raise or lower a running canary's share (0 rolls it back); (before, after)."""
    _check_percent(percent)
    lesson_id = ws.lesson_ref(lesson).id
    running = flagfile.current_canary(flags, lesson_id)
    if running is None:
        raise ContentError(
            f"{lesson_id} has no canary in {flags}; start one with `fiml-cms tag {lesson_id} --canary N`"
        )
    changed = Canary(running.lesson, running.version, running.stable, percent)
    flagfile.set_canary(flags, changed)
    return running, changed


def promote(ws: Workspace, lesson: str, flags: Path) -> Canary:
    """End a canary by releasing its version to everyone (the flag is removed)."""
    lesson_id = ws.lesson_ref(lesson).id
    running = flagfile.current_canary(flags, lesson_id)
    if running is None:
        raise ContentError(f"{lesson_id} has no canary in {flags}: nothing to promote")
    if running.percent == 0:
        raise ContentError(
            f"the canary of {lesson_id} {running.version} was rolled back (0 %); raise it with `fiml-cms canary {lesson_id} N` before promoting"
        )
    flagfile.remove_canary(flags, lesson_id)
    return running
