"""Findings: what a check says about a file, and the catalogue of rule codes.

Checks return `Finding` values with a JSON path; positions are filled in afterwards,
only for files that have findings (locating nodes costs a second parse).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

PathPart = str | int
JsonPath = tuple[PathPart, ...]


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    severity: Severity
    summary: str


def _rules(*rows: tuple[str, str, Severity, str]) -> dict[str, Rule]:
    return {code: Rule(code, name, sev, summary) for code, name, sev, summary in rows}


E, W = Severity.ERROR, Severity.WARNING

#: Every rule fiml-cms reports. Codes are stable: never reuse or renumber one.
RULES: dict[str, Rule] = _rules(
    ("FIML001", "yaml-syntax", E, "The file is not valid YAML."),
    ("FIML002", "duplicate-key", E, "A key appears twice in the same mapping."),
    ("FIML003", "invalid-utf8", E, "The file is not valid UTF-8 text."),
    ("FIML004", "byte-order-mark", E, "The file starts with a byte order mark."),
    ("FIML005", "tab-indentation", E, "A line is indented with a tab; YAML needs spaces."),
    ("FIML006", "empty-file", E, "The file has no content."),
    ("FIML007", "file-too-large", E, "The file is larger than the 1 MiB limit."),
    ("FIML008", "binary-file", E, "The file contains NUL bytes: it is not text."),
    ("FIML009", "alias-expansion", E, "YAML aliases expand too far, or refer to themselves."),
    ("FIML010", "not-a-mapping", E, "The top level of the file is not a mapping of fields."),
    (
        "FIML011",
        "unsafe-file",
        E,
        "The file cannot be read safely (a symlink leaving the repository, a directory, unreadable).",
    ),
    (
        "FIML012",
        "unsupported-value",
        E,
        "A key or value has a YAML type JSON cannot hold (binary, set, non-text key).",
    ),
    ("FIML020", "missing-field", E, "A required field is missing."),
    ("FIML021", "unknown-field", E, "A field the format does not define."),
    ("FIML022", "wrong-type", E, "A field has the wrong type (text, number, list, ...)."),
    (
        "FIML023",
        "invalid-value",
        E,
        "A value is not one of the allowed values or does not match the allowed form.",
    ),
    ("FIML024", "out-of-range", E, "A number, text length or list length is outside its allowed range."),
    ("FIML030", "id-file-mismatch", E, "The id does not equal the file name without .yaml."),
    ("FIML031", "duplicate-id", E, "Two lessons (or a lesson's `replaces`) claim the same id."),
    ("FIML032", "version-changelog-mismatch", E, "`version` differs from the top changelog entry's version."),
    ("FIML033", "changelog-order", E, "Changelog versions are not strictly decreasing from the top."),
    ("FIML034", "changelog-dates", E, "A changelog date is later than the entry above it."),
    ("FIML035", "answer-out-of-range", E, "A multiple-choice answer index points past the options."),
    (
        "FIML036",
        "ambiguous-answer",
        E,
        "Two options are the same, so there is not exactly one correct answer.",
    ),
    ("FIML037", "unknown-prerequisite", E, "A prerequisite names a lesson that does not exist."),
    (
        "FIML038",
        "prerequisite-cycle",
        E,
        "Prerequisites form a cycle, so none of the lessons could be started.",
    ),
    ("FIML039", "duplicate-section-id", E, "Two sections of a lesson share an id."),
    ("FIML040", "duplicate-question-id", E, "Two questions of a lesson share an id."),
    (
        "FIML041",
        "message-too-long",
        E,
        "A section or question would not fit in one Telegram message (4,096 UTF-16 units, header included).",
    ),
    ("FIML042", "unknown-yanked-version", E, "A yanked version does not appear in the lesson's changelog."),
    ("FIML043", "unknown-path-lesson", E, "A learning path lists a lesson that does not exist."),
    ("FIML044", "duplicate-path-id", E, "Two learning paths share an id."),
    (
        "FIML045",
        "yanked-current-version",
        E,
        "The current version is listed as yanked, so the lesson could never be served.",
    ),
    ("FIML046", "self-replacement", E, "A lesson lists its own id in `replaces`."),
    ("FIML060", "version-not-bumped", E, "A lesson's content changed but its version did not."),
    (
        "FIML061",
        "bump-too-small",
        E,
        "The version rose by less than the change requires (patch < minor < major).",
    ),
    ("FIML062", "version-lowered", E, "The version is lower than before."),
    (
        "FIML063",
        "missing-changelog-entry",
        E,
        "The version rose without a changelog entry for the new version.",
    ),
    ("FIML064", "id-changed", E, "A lesson's id changed without listing the old id in `replaces`."),
    (
        "FIML065",
        "published-lesson-deleted",
        E,
        "A lesson with published versions was deleted; retire it instead.",
    ),
    (
        "FIML066",
        "base-unreadable",
        W,
        "The base version of a changed lesson could not be read, so the bump was not checked.",
    ),
    (
        "FIML067",
        "changelog-rewritten",
        E,
        "A changelog entry of an earlier version was removed or changed; the changelog only grows at the top.",
    ),
    ("FIML070", "archive-missing", E, "A published version has no archive file."),
    ("FIML071", "archive-differs", E, "An archive file (or index.json) differs from the published blob."),
    ("FIML072", "archive-extra", E, "An archive file belongs to no published version."),
    ("FIML073", "archive-stale-temp", E, "A temporary file left in the archive by an interrupted run."),
    ("FIML050", "long-paragraph", W, "A paragraph is long for a chat message; split it."),
    ("FIML051", "retired-prerequisite", W, "A prerequisite is retired: new learners can never complete it."),
    ("FIML052", "retired-in-path", W, "A learning path lists a retired lesson."),
    (
        "FIML053",
        "stale-fallback",
        W,
        'A live_example or chart fallback gives figures without an "as of" date, or one older than `fallback_max_age_days`.',
    ),
)
del E, W


@dataclass(frozen=True)
class Fix:
    """A hint as an edit, so that following it is mechanical (`fiml-cms validate --fix`, editors through
    `--format json`) and a test can prove that it fixes what it is about.

    `set`: the value at the finding's path becomes `value`; `rename`: the key at the finding's path becomes
    `value`; `line`: the finding's line is replaced by `value` (a file that does not parse has no paths).
    """

    action: str
    value: Any

    def as_json(self) -> dict[str, Any]:
        return {"action": self.action, "value": self.value}


@dataclass(frozen=True)
class Finding:
    """One thing wrong with one file. `line`/`column` are 1-based; 0 means unknown."""

    code: str
    message: str
    file: str
    path: JsonPath = ()
    line: int = 0
    column: int = 0
    severity: Severity | None = None
    at_key: bool = False  # point at the key of `path` rather than its value
    fix: Fix | None = None  # the edit the message's hint asks for, when it names one

    def __post_init__(self) -> None:
        if self.severity is None:
            object.__setattr__(self, "severity", RULES[self.code].severity)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    @property
    def json_path(self) -> str:
        return format_json_path(self.path)

    def at(self, line: int, column: int) -> Finding:
        return replace(self, line=line, column=column)


def format_json_path(path: JsonPath) -> str:
    """`("quiz", "questions", 2, "answer")` -> `$.quiz.questions[2].answer`."""
    out = ["$"]
    for part in path:
        out.append(f"[{part}]" if isinstance(part, int) else f".{part}")
    return "".join(out)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.file, f.line, f.column, f.code, f.message))
