"""Finishing a `bump --commit [--tag]` that was interrupted (kill -9, a full disk, a lost terminal).

A bump is three steps: write the file, commit it, tag the commit. A rerun of the same command finds
where the first run stopped, by comparing the file, HEAD and the tags, and does the rest, instead of
bumping a second time (killed after the commit) or refusing a file "with uncommitted changes" (killed
between the write and the commit). "The same command" means the same lesson and the same changelog
lines: those are what the interrupted run wrote at the top of the changelog.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import yamlfile
from ..document import parse_lesson
from ..errors import ContentError
from ..lesson import Lesson
from ..workspace import LessonRef, Workspace
from .bump import commit_message, tag_message


@dataclass(frozen=True)
class Resumed:
    """What the rerun finished: the commit (new or found) and the tag it created, if any."""

    lesson_id: str
    version: str
    commit: str
    committed_now: bool
    tag: str | None

    def summary(self) -> str:
        done = [
            f"committed {self.commit[:12]}" if self.committed_now else f"found the commit {self.commit[:12]}"
        ]
        if self.tag:
            done.append(f"tagged {self.tag}")
        return f"{self.lesson_id}: finished the interrupted bump to {self.version}: {', '.join(done)}"


def resume_bump(
    ws: Workspace, lesson: str, messages: list[str], tag: bool, pending: bool = False
) -> Resumed | None:
    """Finish an interrupted `bump --commit [--tag]` of `lesson` with these messages; None when there is
    none (the caller then bumps as usual)."""
    ref = ws.lesson_ref(lesson)
    if tag:
        from ..release import require_release_branch

        require_release_branch(ws.repo, ws.settings, ref.id, pending)
    relative = ws.repo.relative(ref.path)
    try:
        text = ref.path.read_bytes().decode("utf-8")
        working = parse_lesson(text.encode("utf-8"), str(ref.path))
    except (OSError, UnicodeDecodeError, ContentError):
        return None
    top = working.changelog[0]
    if top.changes != tuple(m.strip() for m in messages):
        return None
    name = ws.tag_format.name(ref.id, working.version)
    if ws.repo.tag_exists(name):
        return None  # finished: the version is published
    head = ws.repo.read_at("HEAD", relative)
    if head is not None and head.decode("utf-8", errors="replace") == text:
        return _tag_committed(ws, ref, relative, working, name if tag else None)
    if head is None or not _is_exactly_a_bump_of(head, text, working):
        return None
    if ws.repo.is_detached():
        raise ContentError("HEAD is detached (not on a branch): check out a branch before committing a bump")
    sha = ws.repo.commit_file(relative, commit_message(ref.id, top.version, top.changes))
    if tag:
        ws.repo.create_tag(name, sha, tag_message(top))
    return Resumed(ref.id, working.version, sha, True, name if tag else None)


def _tag_committed(
    ws: Workspace, ref: LessonRef, relative: str, working: Lesson, name: str | None
) -> Resumed | None:
    """Killed after the commit: the last commit of the file must be the bump commit of this version."""
    last = ws.repo.last_commit(relative)
    if last is None or last.subject != commit_message(ref.id, working.version, ()).strip():
        return None
    if name:
        ws.repo.create_tag(name, last.sha, tag_message(working.changelog[0]))
    return Resumed(ref.id, working.version, last.sha, False, name)


def _is_exactly_a_bump_of(head: bytes, text: str, working: Lesson) -> bool:
    """The working file is HEAD's file with only `version:` set and the top changelog entry added."""
    top = working.changelog[0]
    try:
        expected = yamlfile.bump_text(head.decode("utf-8"), top.version, top.date, list(top.changes))
    except (UnicodeDecodeError, yamlfile.EditError):
        return False
    return expected == text
