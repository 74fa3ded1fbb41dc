"""`fiml-cms tag`: publish the committed version of a lesson, or tag a whole history at once."""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import versions
from ..document import LESSON, check_text, parse_lesson
from ..errors import ContentError, UsageError
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
    #: (id, version) -> the later commits (sha, date) whose text of that version differs from the tagged one
    changed_later: dict[tuple[str, str], list[tuple[str, str]]] = field(default_factory=dict)

    def render(self, dry_run: bool) -> str:
        verb = "would create" if dry_run else "created"
        lines = [f"{verb} {t.name} at {t.commit[:12]} ({t.date[:10]}, {t.path})" for t in self.tags]
        lines += [f"already tagged: {name}" for name in self.existing]
        for old, new, path, commit in self.renames:
            lines.append(
                f"rename: {old} -> {new} in {path} at {commit[:12]}; add `replaces: [{old}]` to {new}"
            )
        lines += [f"problem: {p}" for p in self.problems]
        by_key = {(t.lesson_id, t.version): t for t in self.tags}
        for (lesson_id, version), later in self.changed_later.items():
            tag = by_key.get((lesson_id, version))
            if tag is None:
                continue
            last_sha, last_date = later[-1]
            at = (
                ""
                if tag.commit == last_sha
                else f" (tag its last text instead: --at {lesson_id}@{version}={last_sha[:12]}, or --last-text for all)"
            )
            lines.append(
                f"changed: {lesson_id} {version}'s text changed {len(later)} time(s) after its first commit without a new version, "
                f"last at {last_sha[:12]} ({last_date[:10]}); {'tagged' if not dry_run else 'the tag points'} at {tag.commit[:12]} ({tag.date[:10]}){at}"
            )
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


def plan_from_history(
    ws: Workspace, at: dict[tuple[str, str], str] | None = None, last_text: bool = False
) -> HistoryPlan:
    """For each lesson and version, the first commit at which it appears in the lessons folder (or the
    commit `at` names for it, or with `last_text` the last commit with that version); versions whose
    text changed later under the same number are reported in `changed_later`."""
    plan = _plan_from_history(ws)
    chosen = dict(at or {})
    if last_text:
        for key, later in plan.changed_later.items():
            chosen.setdefault(key, later[-1][0])
    known = {(t.lesson_id, t.version) for t in plan.tags}
    for key in chosen:
        if key not in known:
            raise UsageError(f"--at {key[0]}@{key[1]}: no such untagged version in the history")
    for i, tag in enumerate(plan.tags):
        commit = chosen.get((tag.lesson_id, tag.version))
        if commit is None:
            continue
        sha = ws.repo.resolve(commit)
        data = ws.repo.read_at(sha, tag.path)
        doc = check_text(data or b"", tag.path, LESSON).data or {}
        if doc.get("id") != tag.lesson_id or versions.normalize_legacy(doc.get("version")) != tag.version:
            raise UsageError(
                f"--at {tag.lesson_id}@{tag.version}={commit}: {tag.path} at {sha[:12]} does not hold that version"
            )
        date = ws.repo.commit_date(sha)
        message = _history_message(doc, tag.version, sha)
        plan.tags[i] = PlannedTag(tag.name, tag.lesson_id, tag.version, sha, date, tag.path, message)
    return plan


def _plan_from_history(ws: Workspace) -> HistoryPlan:
    if ws.repo.is_shallow():
        raise ContentError(
            "this is a shallow clone: its history is incomplete, so versions cannot be reconstructed from it; run `git fetch --unshallow` first"
        )
    plan = HistoryPlan()
    folder = ws.repo.relative(ws.settings.lessons) if ws.settings.lessons != ws.repo.root else ""
    seen: set[tuple[str, str]] = set()
    texts: dict[tuple[str, str], bytes] = {}  # the latest text of each version seen
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
            if version is None:
                continue
            key = (lesson_id, version)
            if key in seen:
                if texts.get(key) not in (None, data):
                    plan.changed_later.setdefault(key, []).append((commit.sha, commit.date))
                texts[key] = data
                continue
            seen.add(key)
            texts[key] = data
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


def former_ids(ws: Workspace) -> dict[str, tuple[str, ...]]:
    """Lesson id -> the ids it had before in git history (renamed inside its file), transitively:
    what its `replaces` must list so its published versions stay its own. Empty for a shallow clone."""
    try:
        renames = plan_from_history(ws).renames
    except ContentError:  # a shallow clone: its history is incomplete
        return {}
    direct: dict[str, list[str]] = {}
    for old, new, _path, _commit in renames:
        direct.setdefault(new, []).append(old)
    former: dict[str, tuple[str, ...]] = {}
    for lesson_id in direct:
        seen: list[str] = []
        pending = list(direct[lesson_id])
        while pending:  # a -> b -> c: c replaces b and a
            old = pending.pop(0)
            if old != lesson_id and old not in seen:
                seen.append(old)
                pending.extend(direct.get(old, []))
        former[lesson_id] = tuple(seen)
    return former
