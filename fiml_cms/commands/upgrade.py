"""`fiml-cms upgrade`: rewrite legacy FIML lessons in the current format (SPEC §3).

For each file: read, parse, map with `fiml_cms.legacy`, dump, validate the result, and only
then write it (atomically). A file with any problem is left exactly as it was: content that
has no place in the format is reported, never dropped, unless the user allowed it by name.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import atomic, legacy
from ..config import Settings
from ..document import check_text
from ..errors import ContentError, UsageError
from ..sourcefile import Source, read_source
from ..yamlfile import YamlProblem, dump_lesson, load
from .validate import YAML_SUFFIXES, display_name

UPGRADED = "upgraded"
CURRENT = "current"
SKIPPED = "skipped"
PROBLEMS = "problems"


@dataclass
class FileOutcome:
    """What `upgrade` did (or, with --check / --dry-run, would do) to one file."""

    path: Path
    display: str
    status: str  # UPGRADED | CURRENT | SKIPPED | PROBLEMS
    lesson_id: str | None = None
    target: Path | None = None  # where the lesson is (to be) written; differs from path when renamed
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    duplicate_of: list[str] = field(default_factory=list)  # other files claiming the same id
    first_added: str | None = None  # when git first saw the file (ISO 8601), to settle duplicate ids
    diff: str = ""
    written: bool = False
    old_text: str | None = field(default=None, repr=False)
    new_text: str | None = field(default=None, repr=False)

    @property
    def renamed(self) -> bool:
        return self.target is not None and self.target != self.path

    @property
    def needs_writing(self) -> bool:
        return not self.problems and (self.status == UPGRADED or self.renamed)


@dataclass
class UpgradeReport:
    files: list[FileOutcome]
    check: bool = False
    dry_run: bool = False

    def _count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status and not f.problems)

    @property
    def problems(self) -> int:
        return sum(1 for f in self.files if f.problems)

    @property
    def pending(self) -> int:
        """Files that need upgrading or renaming (and could be)."""
        return sum(1 for f in self.files if f.needs_writing and not f.written)

    @property
    def exit_code(self) -> int:
        """0 fine; 1 a file has problems, or --check found a file that needs upgrading."""
        return 1 if self.problems or (self.check and self.pending) else 0

    def render_text(self) -> str:
        lines: list[str] = []
        preview = self.check or self.dry_run
        if self.dry_run:
            lines.extend(f.diff.rstrip("\n") for f in self.files if f.diff)
        for f in self.files:
            name = f.display + (f" -> {_display(f.target)}" if f.renamed and not f.problems else "")
            if f.problems:
                head = (
                    f"not upgraded: {len(f.problems)} problem(s)"
                    if f.status != CURRENT
                    else f"already current, but {len(f.problems)} problem(s)"
                )
            elif f.status == UPGRADED:
                head = "would be upgraded" if preview else "upgraded"
            elif f.status == CURRENT:
                head = "already current" + (
                    (", would be renamed" if preview else ", renamed") if f.renamed else ""
                )
            else:
                head = "skipped"
            lines.append(f"{name}: {head}")
            lines.extend(f"  - {n}" for n in f.notes)
            lines.extend(f"  ! {p}" for p in f.problems)
        upgraded = self._count(UPGRADED)
        summary = [
            f"{upgraded} {'to upgrade' if preview else 'upgraded'}",
            f"{self._count(CURRENT)} already current",
            f"{self._count(SKIPPED)} skipped",
            f"{self.problems} with problems",
        ]
        lines.append(f"{len(self.files)} file(s): " + ", ".join(summary))
        if self.check and self.pending:
            lines.append("run `fiml-cms upgrade` (without --check) to rewrite them")
        return "\n".join(lines)


def upgrade(
    targets: list[Path],
    settings: Settings,
    *,
    check: bool,
    dry_run: bool,
    rename: bool,
    today: str,
    drop_fields: Iterable[str] = (),
    text_types: Iterable[str] = (),
    defaults: dict[str, int] | None = None,
) -> UpgradeReport:
    """Upgrade the lesson files in `targets` (files or folders; none: the lessons folder).

    `check`: change nothing, exit 1 when something needs upgrading; `dry_run`: change
    nothing, keep a unified diff per file; `rename`: name each lesson `<id>.yaml`.
    """
    files = _expand(targets or [settings.lessons], settings, explicit=bool(targets))
    history = _History(settings.root)
    try:
        former = history.former_ids(settings)
        outcomes = [
            _upgrade_one(
                path,
                settings,
                history,
                today,
                frozenset(drop_fields),
                tuple(text_types),
                defaults or {},
                former,
            )
            for path in files
        ]
    finally:
        history.close()
    _mark_duplicates(outcomes)
    duplicates = {o.path: o for o in outcomes if o.duplicate_of and o.problems}
    for outcome in outcomes:
        _plan_target(outcome, rename, duplicates)
        if dry_run and outcome.needs_writing:
            outcome.diff = _diff(outcome)
    if not (check or dry_run):
        for outcome in outcomes:
            if outcome.needs_writing:
                _write(outcome)
    return UpgradeReport(outcomes, check, dry_run)


# -- finding files ---------------------------------------------------------------------------
def _expand(targets: list[Path], settings: Settings, *, explicit: bool) -> list[Path]:
    seen: dict[Path, None] = {}
    for target in targets:
        if target.is_dir():
            try:
                entries = sorted(target.iterdir())
            except OSError as exc:
                raise UsageError(f"{target}: cannot list the folder: {exc.strerror or exc}") from None
            for path in entries:
                if (
                    path.name.endswith(YAML_SUFFIXES)
                    and not path.name.startswith(".")
                    and (path.is_file() or path.is_symlink())
                ):
                    seen.setdefault(path.absolute(), None)
        elif target.exists() or target.is_symlink():
            if not target.name.endswith(YAML_SUFFIXES):
                raise UsageError(f"{target}: not a YAML file (.yaml or .yml)")
            seen.setdefault(target.absolute(), None)
        elif explicit:
            raise UsageError(f"{target}: no such file or folder")
        else:
            raise UsageError(
                f"no lessons folder at {target}; pass files or folders, or set `lessons` in {settings.config_file or '.fiml-cms.toml'}"
            )
    return list(seen)


def _display(path: Path | None) -> str:
    return display_name(path) if path is not None else ""


# -- history ---------------------------------------------------------------------------------
class _History:
    """The date each file first appeared in git, when the content repository is one."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._repo: Any = None
        self._tried = False

    def first_seen(self, path: Path) -> str | None:
        added = self.first_added(path)
        return added[:10] if added else None

    def first_added(self, path: Path) -> str | None:
        """The author date of the first commit that has the file, in full."""
        if not self._tried:
            self._tried = True
            try:
                from ..gitrepo import GitRepo

                self._repo = GitRepo(self._root)
            except (ContentError, ImportError, OSError):
                self._repo = None
        if self._repo is None:
            return None
        try:
            commits = self._repo.commits((self._repo.relative(path),))
        except (ContentError, ValueError):
            return None
        return commits[0].author_date if commits else None

    def former_ids(self, settings: Settings) -> dict[str, tuple[str, ...]]:
        """Lesson id -> the ids it had before in git history (a lesson renamed inside its file, as
        `tag --from-history` reports), so the upgraded lesson lists them in `replaces`."""
        self.first_added(settings.root)  # opens the repository, if there is one
        if self._repo is None or self._repo.head() is None:
            return {}
        from ..workspace import Workspace
        from .tagging import former_ids

        return former_ids(Workspace(settings))

    def close(self) -> None:
        if self._repo is not None:
            self._repo.close()


# -- one file --------------------------------------------------------------------------------
def _upgrade_one(
    path: Path,
    settings: Settings,
    history: _History,
    today: str,
    drop_fields: frozenset[str],
    text_types: tuple[str, ...],
    defaults: dict[str, int],
    former: dict[str, tuple[str, ...]] | None = None,
) -> FileOutcome:
    outcome = FileOutcome(path, display_name(path), PROBLEMS)
    loaded = _read_lesson(path, settings, outcome)
    if loaded is None:
        return outcome
    source, data = loaded
    outcome.lesson_id = data["id"] if isinstance(data["id"], str) else None
    outcome.first_added = history.first_added(path)
    if legacy.is_current(data):
        outcome.status = CURRENT
        return outcome
    result = legacy.upgrade_lesson(
        data,
        stem=_stem(path),
        first_seen=history.first_seen(path),
        today=today,
        drop_fields=drop_fields,
        text_types=text_types,
        defaults=defaults,
    )
    outcome.notes.extend(
        f"{f.code} {f.message}" for f in source.findings
    )  # e.g. a byte order mark, removed by the rewrite
    outcome.notes.extend(result.notes)
    if result.problems or result.data is None:
        outcome.problems.extend(result.problems or ["cannot be upgraded"])
        return outcome
    renamed_from = (former or {}).get(str(result.data.get("id")), ())
    listed = list(result.data.get("replaces") or [])
    added = [old for old in renamed_from if old not in listed]
    if added:
        result.data["replaces"] = listed + added
        outcome.notes.append(
            f"$.replaces: + {', '.join(added)} (the id it had before in git history, so its published versions stay its own)"
        )
    _rewrite(outcome, result.data)
    return outcome


def _read_lesson(
    path: Path, settings: Settings, outcome: FileOutcome
) -> tuple[Source, dict[str, Any]] | None:
    """The file's source and top-level mapping; None, with the problem or the reason to skip in
    `outcome`, for a symlink, an unreadable file, bad YAML or a file that is not a lesson."""
    if path.is_symlink():
        outcome.problems.append(
            "is a symlink; upgrade rewrites regular files only (upgrade the file it points to)"
        )
        return None
    source = read_source(path, outcome.display, settings.root)
    if source.text is None:
        outcome.problems.extend(f"{f.line}:{f.column} {f.code} {f.message}" for f in source.findings)
        return None
    outcome.old_text = source.text
    try:
        data = load(source.text)
    except YamlProblem as problem:
        outcome.problems.append(f"{problem.line}:{problem.column} {problem.code} {problem.message}")
        return None
    if not isinstance(data, dict) or "id" not in data:
        outcome.status = SKIPPED
        outcome.notes.append(
            "not a lesson: "
            + (
                "the file has no `id` field"
                if isinstance(data, dict)
                else "the top level is not a mapping of fields"
            )
        )
        return None
    return source, data


def _rewrite(outcome: FileOutcome, upgraded: dict[str, Any]) -> None:
    """Dump the upgraded lesson and validate the text: UPGRADED with `new_text`, or its problems."""
    text = dump_lesson(upgraded)
    if load(text) != upgraded:  # pragma: no cover - dump_lesson is fuzzed to prevent this
        outcome.problems.append(
            "internal error: the rewritten file does not read back to the upgraded lesson; nothing written"
        )
        return
    checked = check_text(text.encode("utf-8"), outcome.display, stem=upgraded["id"])
    for finding in checked.findings:
        where = f" [{finding.json_path}]" if finding.path else ""
        message = f"the upgraded lesson fails validation: {finding.code} {finding.message}{where}"
        (outcome.problems if finding.is_error else outcome.notes).append(
            message if finding.is_error else f"warning {finding.code} {finding.message}{where}"
        )
    if outcome.problems:
        return
    outcome.status = UPGRADED
    outcome.new_text = text


def _stem(path: Path) -> str:
    for suffix in YAML_SUFFIXES:
        if path.name.endswith(suffix):
            return path.name[: -len(suffix)]
    return path.stem


def _mark_duplicates(outcomes: list[FileOutcome]) -> None:
    """Several files claiming one id: nothing is merged.

    When git shows one file was added first, that file is the lesson and is upgraded; each
    later one is reported as a duplicate of it and left untouched. Otherwise none is touched.
    """
    import datetime as dt

    claims: dict[str, list[FileOutcome]] = {}
    for outcome in outcomes:
        if outcome.lesson_id and outcome.status != SKIPPED:
            claims.setdefault(outcome.lesson_id, []).append(outcome)
    for lesson_id, owners in claims.items():
        if len(owners) < 2:
            continue
        if all(o.first_added for o in owners):
            ordered = sorted(owners, key=lambda o: dt.datetime.fromisoformat(o.first_added or ""))
            first = ordered[0]
            if dt.datetime.fromisoformat(first.first_added or "") < dt.datetime.fromisoformat(
                ordered[1].first_added or ""
            ):
                for outcome in ordered[1:]:
                    outcome.duplicate_of = [first.display]
                    outcome.problems.append(
                        f'duplicate id "{lesson_id}": {first.display} has the same id and was in the repository first '
                        f"({(first.first_added or '')[:10]}), so it keeps it; this file is not rewritten, renamed or merged "
                        "(give it a new id or remove it)"
                    )
                continue
        for outcome in owners:
            others = [o.display for o in owners if o is not outcome]
            outcome.duplicate_of = others
            outcome.problems.append(
                f'duplicate id "{lesson_id}": {", ".join(others)} has the same id; neither file is rewritten, renamed or merged '
                "(keep one as this lesson, give the other a new id or remove it, then run upgrade again)"
            )


def _plan_target(
    outcome: FileOutcome, rename: bool, duplicates: dict[Path, FileOutcome] | None = None
) -> None:
    if outcome.status not in (UPGRADED, CURRENT) or not outcome.lesson_id:
        return
    outcome.target = outcome.path
    if _stem(outcome.path) == outcome.lesson_id:
        return
    if not rename:
        if outcome.status == UPGRADED:
            outcome.notes.append(
                f"the file name differs from the id {outcome.lesson_id!r}: rename it {outcome.lesson_id}.yaml (--rename) or `validate` reports FIML030"
            )
        return
    if outcome.problems:
        return
    wanted = outcome.path.with_name(f"{outcome.lesson_id}.yaml")
    for taken in (wanted, outcome.path.with_name(f"{outcome.lesson_id}.yml")):
        if (taken.exists() or taken.is_symlink()) and not _same_file(taken, outcome.path):
            if duplicates and taken in duplicates:
                outcome.notes.append(
                    f"upgraded in place, not renamed: {_display(taken)} is a duplicate of this lesson's id (reported there); "
                    "remove it, then run `fiml-cms upgrade --rename` again"
                )
                return
            outcome.problems.append(
                f"cannot rename to {_display(taken)}: that file already exists (a different file); nothing is overwritten or merged"
            )
            return
    outcome.target = wanted
    if outcome.status == CURRENT:
        outcome.new_text = outcome.old_text


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def _diff(outcome: FileOutcome) -> str:
    old = (outcome.old_text or "").splitlines(keepends=True)
    new = (outcome.new_text or "").splitlines(keepends=True)
    lines = list(
        difflib.unified_diff(
            old, new, fromfile=f"a/{outcome.display}", tofile=f"b/{_display(outcome.target)}"
        )
    )
    if not lines and outcome.renamed:
        return f"rename {outcome.display} -> {_display(outcome.target)} (content unchanged)\n"
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )


def _write(outcome: FileOutcome) -> None:
    assert outcome.target is not None and outcome.new_text is not None
    try:
        # A current lesson that is only renamed keeps its exact bytes (comments, layout).
        data = outcome.path.read_bytes() if outcome.status == CURRENT else outcome.new_text.encode("utf-8")
        if outcome.renamed:
            atomic.create_bytes(outcome.target, data)
            outcome.path.unlink()
        else:
            atomic.write_bytes(outcome.target, data)
    except FileExistsError:
        outcome.problems.append(
            f"cannot rename to {_display(outcome.target)}: the file appeared meanwhile; nothing is overwritten"
        )
        return
    except OSError as exc:
        outcome.problems.append(f"cannot write {_display(outcome.target)}: {exc.strerror or exc}")
        return
    outcome.written = True
