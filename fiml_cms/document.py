"""Checking one file end to end: bytes -> YAML -> JSON values -> schema -> semantic rules.

`check_text` is pure (no file system), so it can be fuzzed; `check_file` adds reading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import plain, rules, schema, yamlfile
from .findings import Finding, Fix, JsonPath
from .lesson import ChangelogEntry, LearningPath, Lesson, question_from_dict, section_from_dict
from .sourcefile import Source, decode_source, read_source

LESSON = "lesson"
LESSON_ID = re.compile(r"^[a-z][a-z0-9_]{2,63}$")
PATH = "path"


@dataclass
class CheckedFile:
    file: str
    stem: str
    kind: str
    text: str | None
    findings: list[Finding] = field(default_factory=list)
    data: dict[str, Any] | None = None
    lesson: Lesson | None = None
    path: LearningPath | None = None

    def lesson_entry(self) -> rules.LessonEntry:
        data = self.data or {}
        lesson_id = data.get("id") if isinstance(data.get("id"), str) else None
        listed = data.get("replaces")
        replaces = listed if isinstance(listed, list) else []
        summary = rules.LessonSummary.of(self.lesson) if self.lesson else _partial_summary(data, lesson_id)
        return rules.LessonEntry(
            self.file,
            self.stem,
            lesson_id,
            tuple(r for r in replaces if isinstance(r, str)),
            summary,
            self._unreadable(),
        )

    def _unreadable(self) -> str | None:
        """The first error of a file that did not load at all (bad YAML, bad bytes): what others must be told."""
        if self.data is not None:
            return None
        first = next((f for f in self.findings if f.is_error), None)
        return f"{first.line}:{first.column} {first.code} {first.message}" if first else "no lesson data"

    def path_entry(self) -> rules.PathEntry:
        data = self.data or {}
        path_id = data.get("id") if isinstance(data.get("id"), str) else None
        return rules.PathEntry(self.file, self.stem, self.path, path_id)


def _partial_summary(data: dict[str, Any], lesson_id: str | None) -> rules.LessonSummary | None:
    """What other files need of a schema-invalid lesson, from the fields that are well formed."""
    if lesson_id is None or not LESSON_ID.match(lesson_id):
        return None

    def ids(value: Any) -> tuple[str, ...]:
        return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()

    flag = data.get("retired")
    retired = flag if isinstance(flag, bool) else False
    return rules.LessonSummary(lesson_id, ids(data.get("prerequisites")), ids(data.get("replaces")), retired)


def check_file(path: Path, display: str, kind: str, root: Path | None) -> CheckedFile:
    return _check_source(read_source(path, display, root), stem_of(path), kind)


def check_text(data: bytes, display: str = "<text>", kind: str = LESSON, stem: str = "text") -> CheckedFile:
    """Check raw bytes as if read from a file; positions included."""
    checked = _check_source(decode_source(display, data), stem, kind)
    add_positions([checked])
    return checked


def stem_of(path: Path) -> str:
    """The file name without .yaml/.yml: what a lesson's id must equal."""
    name = path.name
    for suffix in (".yaml", ".yml"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _check_source(source: Source, stem: str, kind: str) -> CheckedFile:
    checked = CheckedFile(source.file, stem, kind, source.text, list(source.findings))
    if source.text is None:
        return checked
    try:
        loaded = yamlfile.load(source.text)
    except yamlfile.YamlProblem as problem:
        tab = source.tab_indentation(problem.line) if problem.code == "FIML001" else None
        fix = Fix("line", problem.fixed_line) if problem.fixed_line is not None else None
        checked.findings.append(
            tab
            or Finding(
                problem.code, problem.message, source.file, line=problem.line, column=problem.column, fix=fix
            )
        )
        return checked
    if loaded is None:
        checked.findings.append(
            Finding(
                "FIML006",
                "the file holds no YAML data (only comments or blank lines)",
                source.file,
                line=1,
                column=1,
            )
        )
        return checked
    if not isinstance(loaded, dict):
        found = "a list" if isinstance(loaded, list) else "a single value"
        checked.findings.append(
            Finding(
                "FIML010",
                f"the top level must be a mapping of fields (id: ..., title: ...), not {found}",
                source.file,
                line=1,
                column=1,
            )
        )
        return checked
    try:
        plain.expanded_size(loaded)
    except plain.AliasProblem as problem:
        checked.findings.append(Finding(problem.code, problem.message, source.file, problem.path))
        return checked
    data, problems = plain.to_plain(loaded)
    checked.data = data
    checked.findings.extend(
        Finding(p.code, p.message, source.file, p.path, at_key=p.at_key) for p in problems
    )
    _validate(checked, {p.path for p in problems})
    return checked


def _legacy_hint(finding: Finding, file: str) -> Finding:
    """A lesson without `format` was written for the FIML bot's older formats: say how to convert it."""
    if finding.code != "FIML020" or finding.path != ("format",):
        return finding
    message = f"{finding.message}: this looks like a lesson in a legacy format; run `fiml-cms upgrade {file}` to rewrite it in the current format (add --dry-run to see the change first)"
    return replace(finding, message=message)


def _validate(checked: CheckedFile, unsupported: set) -> None:
    name = schema.LESSON_SCHEMA if checked.kind == LESSON else schema.PATH_SCHEMA
    found = [f for f in schema.validate(name, checked.data, checked.file) if f.path not in unsupported]
    if checked.kind == LESSON:
        found = [_legacy_hint(f, checked.file) for f in found]
    checked.findings.extend(found)
    assert checked.data is not None
    if found or unsupported:
        if checked.kind == LESSON:
            bad = {f.path for f in found} | unsupported
            parts = valid_parts(checked.data, bad)
            checked.findings.extend(rules.check_lesson(parts, checked.file, checked.stem))
        return
    if checked.kind == LESSON:
        checked.lesson = Lesson.from_dict(checked.data)
        checked.findings.extend(rules.check_lesson(checked.lesson, checked.file, checked.stem))
    else:
        checked.path = LearningPath.from_dict(checked.data)


def valid_parts(data: dict[str, Any], bad: set[JsonPath]) -> rules.LessonParts:
    """The parts of a schema-invalid lesson that hold no schema error, for the semantic rules."""

    def ok(*path: Any) -> bool:
        return not any(b[: len(path)] == path or path[: len(b)] == b for b in bad)

    def items(path: JsonPath) -> list[tuple[int, Any]]:
        node: Any = data
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        return [(i, v) for i, v in enumerate(node)] if isinstance(node, list) else []

    changelog = None
    if ok("changelog") and isinstance(data.get("changelog"), list):
        changelog = tuple(
            ChangelogEntry(c["version"], c["date"], tuple(c["changes"])) for c in data["changelog"]
        )
    return rules.LessonParts(
        id=data["id"] if ok("id") and isinstance(data.get("id"), str) else None,
        version=data["version"] if ok("version") and isinstance(data.get("version"), str) else None,
        changelog=changelog,
        sections=tuple((i, section_from_dict(s)) for i, s in items(("sections",)) if ok("sections", i)),
        questions=tuple(
            (i, question_from_dict(q)) for i, q in items(("quiz", "questions")) if ok("quiz", "questions", i)
        ),
        yanked=tuple((i, v) for i, v in items(("yanked",)) if ok("yanked", i)),
        replaces=tuple((i, v) for i, v in items(("replaces",)) if ok("replaces", i)),
        xp_reward=data.get("xp_reward") if ok("xp_reward") else None,
        duration_minutes=data.get("duration_minutes") if ok("duration_minutes") else None,
        title=data["title"] if ok("title") and isinstance(data.get("title"), str) else None,
    )


def add_positions(files: list[CheckedFile]) -> None:
    """Fill in line and column for findings that only have a JSON path."""
    for checked in files:
        pending = [f for f in checked.findings if f.line == 0]
        if not pending:
            continue
        if checked.text is None:
            checked.findings = [f.at(1, 1) if f.line == 0 else f for f in checked.findings]
            continue
        where = yamlfile.locate(checked.text, {(f.path, f.at_key) for f in pending})
        checked.findings = [f.at(*where[(f.path, f.at_key)]) if f.line == 0 else f for f in checked.findings]


def parse_lesson(
    data: bytes, display: str, stem: str | None = None, tolerate: tuple[str, ...] = ()
) -> Lesson:
    """A valid Lesson from raw bytes, or ContentError naming the first problems.

    `tolerate`: rule codes that do not count here (`bump` reads a lesson whose current version
    was just listed in `yanked`, FIML045, because the bump is what makes that valid).
    """
    from .errors import ContentError

    def counts(f: Finding) -> bool:
        return f.is_error and not (stem is None and f.code == "FIML030") and f.code not in tolerate

    checked = _check_source(decode_source(display, data), stem or "", LESSON)
    errors = [f for f in checked.findings if counts(f)]
    if errors or checked.lesson is None:
        add_positions([checked])
        errors = [f for f in checked.findings if counts(f)]
        shown = "; ".join(f"{f.line}:{f.column} {f.code} {f.message}" for f in errors[:3])
        raise ContentError(f"{display} is not a valid lesson: {shown or 'no lesson data'}")
    return checked.lesson
