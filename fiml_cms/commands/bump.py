"""`fiml-cms bump`: raise a lesson's version and prepend a dated changelog entry, nothing else."""

from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import dataclass, replace
from pathlib import Path

from .. import atomic, renames, versions, yamlfile
from ..diff import diff_lessons
from ..document import parse_lesson
from ..errors import ContentError, UsageError
from ..lesson import ChangelogEntry, Lesson
from ..versions import Level
from ..workspace import Workspace
from . import yanks

#: A lesson that lists its own current version in `yanked` (FIML045) can still be bumped: the bump
#: is the fixed version that makes the yank take effect.
YANK_PENDING = ("FIML045",)


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
    yanked: tuple[str, ...] = ()  # versions this bump withdraws

    def unified_diff(self) -> str:
        name = self.path.name
        return "".join(
            difflib.unified_diff(
                self.before.splitlines(True), self.after.splitlines(True), f"a/{name}", f"b/{name}"
            )
        )


@dataclass(frozen=True)
class BumpOutcome:
    plan: BumpPlan
    written: bool
    commit: str | None = None
    tag: str | None = None


def plan_bump(
    ws: Workspace,
    lesson: str,
    level_name: str,
    messages: list[str],
    date: dt.date | None,
    force: bool,
    yank: tuple[str, ...] = (),
) -> BumpPlan:
    """The edit a bump makes; `yank`: versions to add to `yanked` in the same edit (SPEC §5)."""
    if not messages or not all(m.strip() for m in messages):
        raise UsageError("say what changed: at least one non-empty -m TEXT")
    ref = ws.lesson_ref(lesson)
    before = _read_text(ref.path)
    current = parse_lesson(before.encode("utf-8"), str(ref.path), tolerate=YANK_PENDING)
    published_as = renames.last_published(ws, ref) if (ws.settings.root / ".git").exists() else None
    published = published_as.version if published_as else None
    required = _required_level(ws, published_as, current)
    yanking = yanks.to_add(current, yank)
    if yanking or current.version in current.yanked:
        required = max(required, Level.PATCH)  # a yank is published by a new version
    level = _chosen_level(ref.id, level_name, required, published_as, force)
    base_version = current.version
    if published and versions.parse(published) > versions.parse(base_version):
        base_version = published
    new_version = versions.bump(base_version, level)
    tag = ws.tag_format.name(ref.id, new_version)
    if (ws.settings.root / ".git").exists() and ws.repo.tag_exists(tag):
        raise ContentError(
            f"{ref.id}: version {new_version} is already published (tag {tag}); bump from there"
        )
    entry = ChangelogEntry(
        new_version, (date or dt.date.today()).isoformat(), tuple(m.strip() for m in messages)
    )
    try:
        after = yamlfile.bump_text(
            yamlfile.add_yanked_text(before, list(yanking)), new_version, entry.date, list(entry.changes)
        )
    except yamlfile.EditError as exc:
        raise ContentError(f"{ref.path}: cannot edit in place: {exc}") from None
    _verify(
        replace(current, yanked=current.yanked + yanking),
        parse_lesson(after.encode("utf-8"), str(ref.path)),
        entry,
    )
    return BumpPlan(
        ref.id, ref.path, current.version, new_version, level, required, entry, before, after, yanking
    )


def _chosen_level(
    lesson_id: str, level_name: str, required: Level, published: renames.PublishedAs | None, force: bool
) -> Level:
    """The level asked for (`auto`: the one the changes require), refused below what they require."""
    if level_name == "auto":
        if required is Level.NONE:
            raise ContentError(f"{lesson_id}: {_nothing_to_bump(lesson_id, published)}")
        return required
    try:
        level = Level.parse(level_name)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if level < required and not force:
        since = published.version if published else None
        raise ContentError(
            f"{lesson_id}: the changes since {since} require a {required.label} bump, not {level.label} (see `fiml-cms diff {lesson_id}`; --force overrides)"
        )
    return level


def _required_level(ws: Workspace, published: renames.PublishedAs | None, current: Lesson) -> Level:
    if published is None:
        return Level.NONE
    return diff_lessons(ws.store.get(published.lesson_id, published.version), current).required


def _nothing_to_bump(lesson_id: str, published: renames.PublishedAs | None) -> str:
    if published is None:
        return f"nothing is published yet, so there is nothing to bump from: publish this version with `fiml-cms tag {lesson_id}` (after committing it)"
    if published.lesson_id != lesson_id:
        return (
            f"no content changes since {published.label(lesson_id)}: a rename alone is not a new edition and needs no bump; "
            f"publish it under its new id as it is, with `fiml-cms tag {lesson_id}` (after committing it)"
        )
    return f"no content changes since the published {published.version}; nothing to bump"


def _verify(before: Lesson, after: Lesson, entry: ChangelogEntry) -> None:
    """The edit changed exactly the version and the changelog's top: checked, not assumed."""
    expected = replace(before, version=entry.version, changelog=(entry, *before.changelog))
    if after != expected:
        raise ContentError(
            "internal check failed: the edited file differs from the intended change; nothing was written"
        )


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContentError(f"{path}: cannot be read: {exc}") from None


def apply_bump(ws: Workspace, plan: BumpPlan, commit: bool, tag: bool, pending: bool = False) -> BumpOutcome:
    if tag and not commit:
        raise UsageError("--tag needs --commit: a tag points at the commit holding the new version")
    if tag:
        from ..release import require_release_branch

        require_release_branch(ws.repo, ws.settings, plan.lesson_id, pending)  # before anything is written
    if commit:
        relative = ws.repo.relative(plan.path)
        if ws.repo.is_detached():
            raise ContentError(
                "HEAD is detached (not on a branch): check out a branch before committing a bump"
            )
        if ws.repo.is_dirty(relative):
            raise ContentError(
                f"{relative} has uncommitted changes; commit them first, so the bump commit holds only the version change"
            )
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
