"""`fiml-cms bump`: raise a lesson's version and prepend a dated changelog entry, nothing else."""

from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import dataclass, replace
from pathlib import Path

from .. import atomic, versions, yamlfile
from ..diff import diff_lessons
from ..document import parse_lesson
from ..errors import ContentError, UsageError
from ..lesson import ChangelogEntry, Lesson
from ..versions import Level
from ..workspace import Workspace


@dataclass(frozen=True)
class BumpPlan:
    lesson_id: str
    path: Path
    old_version: str
    new_version: str
    level: Level
    required: Level
    entry: ChangelogEntry
    before: str
    after: str

    def unified_diff(self) -> str:
        name = self.path.name
        return "".join(difflib.unified_diff(self.before.splitlines(True), self.after.splitlines(True), f"a/{name}", f"b/{name}"))


@dataclass(frozen=True)
class BumpOutcome:
    plan: BumpPlan
    written: bool
    commit: str | None = None
    tag: str | None = None


def plan_bump(ws: Workspace, lesson: str, level_name: str, messages: list[str], date: dt.date | None, force: bool) -> BumpPlan:
    if not messages or not all(m.strip() for m in messages):
        raise UsageError("say what changed: at least one non-empty -m TEXT")
    ref = ws.lesson_ref(lesson)
    before = _read_text(ref.path)
    current = parse_lesson(before.encode("utf-8"), str(ref.path))
    published = ws.last_published(ref.id) if (ws.settings.root / ".git").exists() else None
    required = _required_level(ws, ref.id, published, current)
    if level_name == "auto":
        if required is Level.NONE:
            detail = f"since the published {published}" if published else "and nothing is published yet: publish it with `fiml-cms tag`"
            raise ContentError(f"{ref.id}: no content changes {detail}; nothing to bump")
        level = required
    else:
        try:
            level = Level.parse(level_name)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if level < required and not force:
            raise ContentError(f"{ref.id}: the changes since {published} require a {required.label} bump, not {level.label} (see `fiml-cms diff {ref.id}`; --force overrides)")
    base_version = current.version
    if published and versions.parse(published) > versions.parse(base_version):
        base_version = published
    new_version = versions.bump(base_version, level)
    tag = ws.tag_format.name(ref.id, new_version)
    if (ws.settings.root / ".git").exists() and ws.repo.tag_exists(tag):
        raise ContentError(f"{ref.id}: version {new_version} is already published (tag {tag}); bump from there")
    entry = ChangelogEntry(new_version, (date or dt.date.today()).isoformat(), tuple(m.strip() for m in messages))
    try:
        after = yamlfile.bump_text(before, new_version, entry.date, list(entry.changes))
    except yamlfile.EditError as exc:
        raise ContentError(f"{ref.path}: cannot edit in place: {exc}") from None
    _verify(current, parse_lesson(after.encode("utf-8"), str(ref.path)), entry)
    return BumpPlan(ref.id, ref.path, current.version, new_version, level, required, entry, before, after)


def _required_level(ws: Workspace, lesson_id: str, published: str | None, current: Lesson) -> Level:
    if published is None:
        return Level.NONE
    return diff_lessons(ws.store.get(lesson_id, published), current).required


def _verify(before: Lesson, after: Lesson, entry: ChangelogEntry) -> None:
    """The edit changed exactly the version and the changelog's top: checked, not assumed."""
    expected = replace(before, version=entry.version, changelog=(entry, *before.changelog))
    if after != expected:
        raise ContentError("internal check failed: the edited file differs from the intended change; nothing was written")


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContentError(f"{path}: cannot be read: {exc}") from None


def apply_bump(ws: Workspace, plan: BumpPlan, commit: bool, tag: bool) -> BumpOutcome:
    if tag and not commit:
        raise UsageError("--tag needs --commit: a tag points at the commit holding the new version")
    if commit:
        relative = ws.repo.relative(plan.path)
        if ws.repo.is_detached():
            raise ContentError("HEAD is detached (not on a branch): check out a branch before committing a bump")
        if ws.repo.is_dirty(relative):
            raise ContentError(f"{relative} has uncommitted changes; commit them first, so the bump commit holds only the version change")
    atomic.write_bytes(plan.path, plan.after.encode("utf-8"))
    if not commit:
        return BumpOutcome(plan, True)
    relative = ws.repo.relative(plan.path)
    sha = ws.repo.commit_file(relative, commit_message(plan.lesson_id, plan.new_version, plan.entry.changes))
    if not tag:
        return BumpOutcome(plan, True, sha)
    name = ws.tag_format.name(plan.lesson_id, plan.new_version)
    try:
        ws.repo.create_tag(name, sha, tag_message(plan.entry))
    except ContentError as exc:
        raise ContentError(
            f"committed {sha[:12]} but could not create tag {name}: {exc}. "
            f"To finish: `fiml-cms tag {plan.lesson_id}`. To undo the commit: `git reset --hard {sha[:12]}~1`."
        ) from None
    return BumpOutcome(plan, True, sha, name)


def commit_message(lesson_id: str, version: str, changes: tuple[str, ...]) -> str:
    """The bump commit's message; its subject line is how a rerun recognises the commit."""
    return f"{lesson_id}: version {version}\n\n" + "\n".join(f"- {c}" for c in changes)


def tag_message(entry: ChangelogEntry) -> str:
    """The annotated tag's message: that version's changelog entry."""
    return f"{entry.version} ({entry.date})\n\n" + "\n".join(f"- {c}" for c in entry.changes) + "\n"
