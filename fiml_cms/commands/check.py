"""`fiml-cms check --base REF`: the pull-request gate ("did you bump what you changed, by enough?")."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from .. import versions, yamlfile
from ..diff import diff_lessons
from ..document import LESSON, CheckedFile, check_text
from ..errors import ContentError
from ..findings import Finding, sort_findings
from ..lesson import Lesson
from ..store import DEFAULT_LESSONS, lessons_folder_at, parse_published
from ..versions import Level
from ..workspace import Workspace
from .validate import ValidationResult, display_name


def check(ws: Workspace, base: str, head: str | None = None) -> ValidationResult:
    """Every lesson changed since the merge base of `base` and HEAD, against the rules of SPEC §4."""
    repo = ws.repo
    base_commit = repo.resolve(base)
    head_commit = repo.resolve(head) if head else None
    merge_base = repo.merge_base(base_commit, head_commit or "HEAD") or base_commit
    folder = repo.relative(ws.settings.lessons) if ws.settings.lessons != repo.root else ""
    # The lessons folder may have moved since the base: files are compared across both folders.
    base_folder = lessons_folder_at(repo, merge_base) or DEFAULT_LESSONS
    folders = [folder or "."] + ([base_folder] if base_folder != folder else [])
    findings: list[Finding] = []
    changes = [
        c
        for c in repo.diff_names(merge_base, head_commit, *folders)
        if c[1].endswith((".yaml", ".yml")) and _directly_in(c[2] or c[1], folders + [base_folder])
    ]
    deleted = {_id_at(ws, merge_base, c[1]): c[1] for c in changes if c[0] == "D"}
    history = _FormerIds()
    for status, old_path, new_path in changes:
        if status == "D":
            continue
        path = new_path or old_path
        new = _read_new(ws, head_commit, path)
        if new.lesson is None:
            findings.extend(f for f in new.findings if f.is_error)
            continue
        day = repo.commit_date(merge_base)
        if status == "A":
            # Paired by id (a moved folder, a legacy file renamed to <id>.yaml), then by `replaces`.
            candidates = [new.lesson.id, *new.lesson.replaces]
            renamed_from = [deleted.pop(old_id) for old_id in candidates if old_id in deleted]
            if not renamed_from:
                continue
            old_path = renamed_from[0]  # a rename git did not pair (the content changed a lot too)
        elif new.lesson.id in deleted and _lesson_at(ws, merge_base, old_path, day) is None:
            # The path held a stray file (not a lesson) and the lesson moved in from another name.
            old_path = deleted.pop(new.lesson.id)
        old_data = repo.read_at(merge_base, old_path)
        old = _read_base(old_data, f"{old_path} at {base}", old_path, day, lambda: history.former(ws))
        if old is None or old.lesson is None:
            findings.append(
                Finding(
                    "FIML066",
                    f"the version at {base} is not a valid lesson, so the bump cannot be checked",
                    new.file,
                    ("version",),
                )
            )
        else:
            findings.extend(_compare(old.lesson, new.lesson, new.file, base))
    for old_path in deleted.values():
        findings.extend(_deleted(ws, merge_base, old_path))
    return ValidationResult(len(changes), sort_findings(_positioned(ws, head_commit, findings)))


def _directly_in(path: str, folders: list[str]) -> bool:
    """A file directly in one of the lessons folders (not in a subfolder such as the archive)."""
    parent = path.rpartition("/")[0]
    return any(parent == ("" if f == "." else f) for f in folders)


class _FormerIds:
    """Each lesson's former ids from git history, computed once and only if a legacy base needs them."""

    def __init__(self) -> None:
        self._found: dict[str, tuple[str, ...]] | None = None

    def former(self, ws: Workspace) -> dict[str, tuple[str, ...]]:
        if self._found is None:
            from .tagging import former_ids

            self._found = former_ids(ws)
        return self._found


def _read_base(
    data: bytes | None,
    display: str,
    path: str,
    day: str,
    former: Callable[[], dict[str, tuple[str, ...]]] | None = None,
) -> CheckedFile | None:
    """The base version as `diff` reads it: a lesson in a legacy format is upgraded in memory, as
    `fiml-cms upgrade` writes it (with the `replaces` its history calls for). Its changelog is the
    upgrade's invention (a legacy file has none), so it is not held against the new one."""
    if data is None:
        return None
    checked = check_text(data, display, LESSON)
    if checked.lesson is not None:
        return checked
    stem = Path(path).name.rsplit(".", 1)[0]
    try:
        lesson = parse_published(data, display, stem, day)
    except ContentError:
        return checked
    renamed_from = former().get(lesson.id, ()) if former is not None else ()
    replaces = lesson.replaces + tuple(old for old in renamed_from if old not in lesson.replaces)
    return replace(checked, lesson=replace(lesson, changelog=(), replaces=replaces), findings=[])


def _lesson_at(ws: Workspace, commit: str, path: str, day: str) -> Lesson | None:
    found = _read_base(ws.repo.read_at(commit, path), path, path, day)
    return None if found is None else found.lesson


def _id_at(ws: Workspace, commit: str, path: str) -> str:
    """The lesson id in `path` at `commit` (the path itself when it holds no readable id)."""
    data = check_text(ws.repo.read_at(commit, path) or b"", path, LESSON).data or {}
    lesson_id = data.get("id")
    return lesson_id if isinstance(lesson_id, str) else path


def _read_new(ws: Workspace, head: str | None, path: str) -> CheckedFile:
    absolute = ws.repo.root / path
    if head is None:
        data = absolute.read_bytes() if absolute.is_file() else b""
    else:
        data = ws.repo.read_at(head, path) or b""
    stem = Path(path).name.rsplit(".", 1)[0]
    return check_text(data, display_name(absolute), LESSON, stem)


def _deleted(ws: Workspace, base: str, old_path: str) -> list[Finding]:
    data = ws.repo.read_at(base, old_path)
    old = check_text(data or b"", old_path, LESSON).data or {}
    lesson_id = old.get("id")
    if not isinstance(lesson_id, str):
        return []
    try:
        published = ws.store.versions(lesson_id)
    except ContentError:  # never published: deleting it is fine
        published = []
    if not published:
        return []
    return [
        Finding(
            "FIML065",
            f"lesson {lesson_id} was deleted but has published versions ({', '.join(published)}); set `retired: true` instead, so learners who started it can finish",
            display_name(ws.repo.root / old_path),
            line=1,
            column=1,
        )
    ]


def _compare(old: Lesson, new: Lesson, file: str, base: str) -> list[Finding]:
    findings = []
    if old.id != new.id and old.id not in new.replaces:
        findings.append(
            Finding(
                "FIML064",
                f"the id changed from {old.id} to {new.id}; ids never change: keep {old.id}, or list it in `replaces: [{old.id}]`",
                file,
                ("id",),
            )
        )
    return findings + _version_findings(old, new, file, base) + _changelog_findings(old, new, file)


def _version_findings(old: Lesson, new: Lesson, file: str, base: str) -> list[Finding]:
    """The version must not fall, and must rise at least as far as the content changed."""
    required = diff_lessons(old, new).required
    before, after = versions.parse(old.version), versions.parse(new.version)
    raised = versions.level_between(old.version, new.version)
    if after < before:
        return [
            Finding(
                "FIML062", f"version {new.version} is lower than {old.version} at {base}", file, ("version",)
            )
        ]
    if required > Level.NONE and after == before:
        return [
            Finding(
                "FIML060",
                f"the content changed ({required.label} change) but the version is still {old.version}; run `fiml-cms bump {new.id} {required.label} -m ...`",
                file,
                ("version",),
            )
        ]
    if raised < required:
        return [
            Finding(
                "FIML061",
                f"the changes require a {required.label} bump, but {old.version} -> {new.version} is a {raised.label} bump (see `fiml-cms diff {new.id} {old.version}`)",
                file,
                ("version",),
            )
        ]
    return []


def _changelog_findings(old: Lesson, new: Lesson, file: str) -> list[Finding]:
    """Earlier changelog entries stay as they were; a raised version brings a new entry."""
    findings = []
    kept = {e.version: e for e in new.changelog}
    for entry in old.changelog:
        if kept.get(entry.version) != entry:
            what = "was removed" if entry.version not in kept else "was changed"
            findings.append(
                Finding(
                    "FIML067",
                    f"the changelog entry of {entry.version} {what}; earlier entries stay as they were: add a new entry at the top instead",
                    file,
                    ("changelog",),
                )
            )
    if versions.parse(new.version) > versions.parse(old.version):
        old_entries = {e.version for e in old.changelog}
        if not any(e.version == new.version for e in new.changelog) or new.version in old_entries:
            findings.append(
                Finding(
                    "FIML063",
                    f"version {new.version} has no new changelog entry; add one at the top of `changelog`",
                    file,
                    ("version",),
                )
            )
    return findings


def _positioned(ws: Workspace, head: str | None, findings: list[Finding]) -> list[Finding]:
    """Positions for findings that only carry a JSON path, from the new file's text."""
    out = []
    texts: dict[str, str] = {}
    for f in findings:
        if f.line:
            out.append(f)
            continue
        if f.file not in texts:
            absolute = Path(f.file) if Path(f.file).is_absolute() else Path.cwd() / f.file
            data = (
                absolute.read_bytes()
                if head is None and absolute.is_file()
                else ws.repo.read_at(head or "HEAD", ws.repo.relative(absolute)) or b""
            )
            texts[f.file] = data.decode("utf-8", errors="replace")
        where = yamlfile.locate(texts[f.file], [(f.path, f.at_key)])
        out.append(f.at(*where[(f.path, f.at_key)]))
    return out
