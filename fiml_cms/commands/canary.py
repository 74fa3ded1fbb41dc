"""Content canaries: publish a lesson version to a share of new starts first, then promote or roll back.

The state is content: the flag file (`deploy/flags.json`, flagd's format; see `flagfile`) committed in
the content repository, which the bot reads at the published commit (the release branch), so a bot that
only fetches serves exactly what was committed. `tag --canary N` commits the canary flag and tags that
commit (the tag and its canary arrive together), `canary LESSON N` commits the new share (0 rolls back:
the bot then treats the version as withdrawn), `promote` commits the flag's removal, so the version
becomes the plain latest for everyone. Each refuses while the flag file has uncommitted changes.
"""

from __future__ import annotations

from pathlib import Path

from .. import flagfile, versions
from ..document import parse_lesson
from ..errors import ContentError, Refused, UsageError
from ..flagfile import Canary
from ..gitrepo import OutsideRepository
from ..workspace import Workspace
from .tagging import PlannedTag, tag_current


def _check_percent(percent: int) -> None:
    if not 0 <= percent <= 100:
        raise UsageError(f"--canary {percent}: give a percentage from 0 to 100")


def _committable(ws: Workspace, flags: Path) -> str:
    """The flag file's path in the repository, once it is sure a commit of it holds only our change."""
    try:
        relative = ws.repo.relative(flags)
    except OutsideRepository:  # a --flags file elsewhere: this command's refusal says what to do
        relative = None
    if relative != flagfile.DEFAULT_PATH.as_posix():
        where = "outside the content repository" if relative is None else "not the content's flag file"
        raise Refused(
            f"{flags} is {where} {ws.repo.root}: a content canary is committed with the content in {flagfile.DEFAULT_PATH}, "
            "which the bot reads at the published commit (drop --flags, or unset FIML_FLAGS_FILE for fiml-cms)"
        )
    if ws.repo.is_detached():
        raise Refused("HEAD is detached (not on a branch): check out a branch before changing a canary")
    if ws.repo.is_dirty(relative):
        raise Refused(
            f"{relative} has uncommitted changes: commit or discard them first (`git diff -- {relative}`); "
            "a canary is content, and this command commits the file with only its own change"
        )
    return relative


def _commit(ws: Workspace, relative: str, message: str) -> str:
    return ws.repo.commit_file(relative, message)


def current_share(ws: Workspace, lesson: str, flags: Path) -> Canary | None:
    """A lesson's running canary (its share in `percent`) as the flag file has it, None without one."""
    return flagfile.current_canary(flags, ws.lesson_ref(lesson).id)


def tag_canary(
    ws: Workspace, lesson: str, percent: int, flags: Path, pending: bool = False
) -> tuple[PlannedTag, Canary]:
    """Commit the canary flag, then tag that commit (which holds the committed version): the tag and
    its canary reach a bot together, in one fetch."""
    from ..release import require_release_branch

    _check_percent(percent)
    ref = ws.lesson_ref(lesson)
    lesson_id = ref.id
    require_release_branch(ws.repo, ws.settings, lesson_id, pending)
    relative = _committable(ws, flags)
    running = flagfile.current_canary(flags, lesson_id)  # read first: a broken flag file stops us here
    previous = ws.last_published(lesson_id)
    if previous is None:
        raise ContentError(
            f"{lesson_id} has no published version yet: a canary needs one for the other learners; tag it without --canary"
        )
    version = _committed_version(ws, ref.path)
    name = ws.tag_format.name(lesson_id, version)
    if ws.repo.tag_exists(name):
        raise ContentError(f"{name} already exists: version {version} is published; bump the version first")
    stable = (
        running.stable
        if running is not None and versions.parse(running.stable) < versions.parse(version)
        else previous
    )
    canary = Canary(lesson_id, version, stable, percent)
    flagfile.set_canary(flags, canary)
    sha = _commit(
        ws, relative, f"{lesson_id}: canary {version} for {percent} % of new starts (else {stable})"
    )
    try:
        planned = tag_current(ws, lesson, pending=True, commit=sha)
    except ContentError as exc:
        raise ContentError(
            f"committed the canary flag ({sha[:12]}) but could not create tag {name}: {exc}. "
            f"To finish: `fiml-cms tag {lesson_id}`. To undo the commit: `git reset --hard {sha[:12]}~1`."
        ) from None
    return planned, canary


def _committed_version(ws: Workspace, path: Path) -> str:
    relative = ws.repo.relative(path)
    data = ws.repo.read_at("HEAD", relative)
    if data is None:
        raise ContentError(f"{relative} is not committed yet; commit it, then tag")
    return parse_lesson(data, f"{relative} at HEAD").version


def set_share(ws: Workspace, lesson: str, percent: int, flags: Path) -> tuple[Canary, Canary]:
    """Raise or lower a running canary's share (0 rolls it back); (before, after)."""
    _check_percent(percent)
    lesson_id = ws.lesson_ref(lesson).id
    relative = _committable(ws, flags)
    running = flagfile.current_canary(flags, lesson_id)
    if running is None:
        raise ContentError(
            f"{lesson_id} has no canary in {flags}; start one with `fiml-cms tag {lesson_id} --canary N`"
        )
    changed = Canary(running.lesson, running.version, running.stable, percent)
    if changed == running:
        return running, changed  # nothing to commit
    flagfile.set_canary(flags, changed)
    what = "rolled back" if percent == 0 else f"{percent} % of new starts"
    _commit(ws, relative, f"{lesson_id}: canary {running.version} {running.percent} % -> {what}")
    return running, changed


def promote(ws: Workspace, lesson: str, flags: Path) -> Canary:
    """End a canary by releasing its version to everyone (the flag is removed)."""
    lesson_id = ws.lesson_ref(lesson).id
    relative = _committable(ws, flags)
    running = flagfile.current_canary(flags, lesson_id)
    if running is None:
        raise ContentError(f"{lesson_id} has no canary in {flags}: nothing to promote")
    if running.percent == 0:
        raise ContentError(
            f"the canary of {lesson_id} {running.version} was rolled back (0 %); raise it with `fiml-cms canary {lesson_id} N` before promoting"
        )
    flagfile.remove_canary(flags, lesson_id)
    _commit(
        ws, relative, f"{lesson_id}: promote {running.version} to everyone (canary was {running.percent} %)"
    )
    return running
