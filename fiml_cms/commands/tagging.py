"""`fiml-cms tag`: publish the committed version of a lesson, or tag a whole history at once."""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import versions
from ..document import LESSON, check_text, parse_lesson
from ..errors import ContentError
from ..lesson import ChangelogEntry
from ..workspace import LessonRef, Workspace
from .bump import tag_message


@dataclass(frozen=True)
class PlannedTag:
    name: str
    lesson_id: str
    version: str
    commit: str
    date: str
    path: str
    message: str


@dataclass
class HistoryPlan:
    tags: list[PlannedTag] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    renames: list[tuple[str, str, str, str]] = field(default_factory=list)  # old id, new id, path, commit
    problems: list[str] = field(default_factory=list)

    def render(self, dry_run: bool) -> str:
        verb = "would create" if dry_run else "created"
        lines = [f"{verb} {t.name} at {t.commit[:12]} ({t.date[:10]}, {t.path})" for t in self.tags]
        lines += [f"already tagged: {name}" for name in self.existing]
        for old, new, path, commit in self.renames:
            lines.append(
                f"rename: {old} -> {new} in {path} at {commit[:12]}; add `replaces: [{old}]` to {new}"
            )
        lines += [f"problem: {p}" for p in self.problems]
        lines.append(
            f"{len(self.tags)} tag(s) {verb}, {len(self.renames)} rename(s), {len(self.problems)} problem(s)"
        )
        return "\n".join(lines)


def _already_published(ws: Workspace, ref: LessonRef, name: str, committed: str, relative: str) -> str:
    """Say what to do: commit a bump that is only in the work tree, or bump first."""
    try:
        working = ws.worktree_lesson(ref).version
    except ContentError:
        working = committed
    if working != committed:
        return f"{name} already exists and HEAD still holds version {committed}: version {working} in {relative} is not committed; commit it first (`git commit {relative}`), then tag"
    return f"{name} already exists: version {committed} is published; bump the version first (`fiml-cms bump {ref.id} auto -m ...`)"


def tag_current(ws: Workspace, lesson: str, pending: bool = False, commit: str | None = None) -> PlannedTag:
    """Tag the committed (HEAD, or `commit`) version of one lesson; off a release branch only `pending`."""
    from ..release import require_release_branch

    ref = ws.lesson_ref(lesson)
    head = commit or ws.repo.head()
    if head is None:
        raise ContentError("the repository has no commits yet")
    require_release_branch(ws.repo, ws.settings, ref.id, pending)
    relative = ws.repo.relative(ref.path)
    data = ws.repo.read_at(head, relative)
    if data is None:
        raise ContentError(f"{relative} is not committed yet; commit it, then tag")
    current = parse_lesson(data, f"{relative} at HEAD")
    name = ws.tag_format.name(current.id, current.version)
    if ws.repo.tag_exists(name):
        raise ContentError(_already_published(ws, ref, name, current.version, relative))
    last = ws.last_published(current.id)
    if last and versions.parse(current.version) < versions.parse(last):
        raise ContentError(
            f"{current.id}: committed version {current.version} is lower than the published {last}"
        )
    planned = PlannedTag(
        name, current.id, current.version, head, "", relative, tag_message(current.changelog[0])
    )
    ws.repo.create_tag(name, head, planned.message)
    return planned


def plan_from_history(ws: Workspace) -> HistoryPlan:
    """For each lesson and version, the first commit at which it appears in the lessons folder."""
    if ws.repo.is_shallow():
        raise ContentError(
            "this is a shallow clone: its history is incomplete, so versions cannot be reconstructed from it; run `git fetch --unshallow` first"
        )
    plan = HistoryPlan()
    folder = ws.repo.relative(ws.settings.lessons) if ws.settings.lessons != ws.repo.root else ""
    seen: set[tuple[str, str]] = set()
    ids_by_path: dict[str, str] = {}
    existing = {t.name for t in ws.repo.tags(ws.tag_format.prefix)}
    for commit in ws.repo.commits((folder,) if folder else ()):
        for path in ws.repo.changed_files(commit.sha, folder):
            if not path.endswith((".yaml", ".yml")) or "/" in path[len(folder) + 1 if folder else 0 :]:
                continue
            data = ws.repo.read_at(commit.sha, path)
            if data is None:
                continue
            checked = check_text(data, f"{path} at {commit.sha[:12]}", LESSON)
            doc = checked.data
            if doc is None:
                first = next((f for f in checked.findings if f.is_error), None)
                reason = f"{first.line}:{first.column} {first.message}" if first else "no lesson data"
                plan.problems.append(
                    f"{path} at commit {commit.sha[:12]} is not valid YAML ({reason}); skipped"
                )
                continue
            lesson_id = doc.get("id")
            if not isinstance(lesson_id, str):
                continue
            previous = ids_by_path.get(path)
            if previous and previous != lesson_id:
                plan.renames.append((previous, lesson_id, path, commit.sha))
            ids_by_path[path] = lesson_id
            version = versions.normalize_legacy(doc.get("version")) if "version" in doc else None
            if version is None or (lesson_id, version) in seen:
                continue
            seen.add((lesson_id, version))
            name = ws.tag_format.name(lesson_id, version)
            if name in existing:
                plan.existing.append(name)
                continue
            message = _history_message(doc, version, commit.sha)
            plan.tags.append(PlannedTag(name, lesson_id, version, commit.sha, commit.date, path, message))
    return plan


def _history_message(doc: dict, version: str, commit: str) -> str:
    for entry in doc.get("changelog") or []:
        if isinstance(entry, dict) and versions.normalize_legacy(entry.get("version")) == version:
            listed = entry.get("changes")
            changes = listed if isinstance(listed, list) else []
            return tag_message(
                ChangelogEntry(version, str(entry.get("date", "")), tuple(str(c) for c in changes))
            )
    return f"{version}\n\n- Published before fiml-cms; tagged from history (commit {commit[:12]})\n"


def apply_history(ws: Workspace, plan: HistoryPlan) -> None:
    for tag in plan.tags:
        ws.repo.create_tag(tag.name, tag.commit, tag.message, date=tag.date)
