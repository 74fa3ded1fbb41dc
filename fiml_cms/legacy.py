"""Legacy FIML lessons -> the current lesson format (SPEC §3 "Legacy formats").

Pure: plain data in, plain data out, no I/O and no YAML. `upgrade_lesson` maps every legacy
field it understands and reports, as a *problem*, every piece of content that has no place
in the current format, so nothing is dropped silently; a caller writes a file only when the
result has no problems. `drop_fields` lets a user allow dropping named fields explicitly.

Legacy shapes seen in the FIML corpus (corpus/fiml-lessons.bundle):

- sections as `{type, content}` (plus `title`, `points`, `fiml_query`, `metadata`), no ids;
- quizzes as a bare list of questions with `text`, `options: [{text, is_correct}]`,
  `true_false` with `correct_answer` and per-question `xp_reward`; or as
  `quiz: {questions: [...]}` with options as strings and `correct: <index>` and `points`,
  or options as `{text, correct}`;
- `version` written as "1.0"/"2.0" or missing, no changelog, extra fields.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

FORMAT = 1
IMPORTED = "Imported from the legacy format"

LESSON_ID = re.compile(r"^[a-z][a-z0-9_]{2,63}$")
ITEM_ID = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
SLUG = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
SEMVER = re.compile(
    r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$"
)
SHORT_VERSION = re.compile(r"^v?(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*))?(?:\.(0|[1-9][0-9]*))?$")
SYMBOL = re.compile(r"^[A-Z0-9^][A-Z0-9.^=-]{0,14}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+(\S.*)$")
MINUTES = re.compile(r"^\s*(\d{1,3})\s*(?:min|mins|minute|minutes)?\.?\s*$", re.IGNORECASE)

#: Top-level keys in the order of schemas/lesson.schema.json.
LESSON_KEYS = (
    "id", "version", "format", "title", "category", "difficulty", "duration_minutes", "xp_reward",
    "prerequisites", "replaces", "retired", "yanked", "tags", "learning_objectives", "changelog",
    "sections", "quiz",
)  # fmt: skip

DIFFICULTIES = {
    "beginner": "beginner", "beginners": "beginner", "basic": "beginner", "easy": "beginner", "novice": "beginner", "introductory": "beginner",
    "intermediate": "intermediate", "medium": "intermediate", "moderate": "intermediate",
    "advanced": "advanced", "hard": "advanced", "expert": "advanced",
}  # fmt: skip

#: Legacy section types shown as plain text.
TEXT_TYPES = frozenset({
    "text", "introduction", "intro", "overview", "explanation", "concept", "definition", "example", "examples",
    "story", "scenario", "summary", "conclusion", "tip", "tips", "note", "warning",
})  # fmt: skip
#: Legacy section types holding a list of short points (key_points when the text is a list).
POINT_TYPES = frozenset({"key_points", "key_takeaways", "takeaways", "key_concepts", "summary_points"})
#: Legacy section types for market data; they need a data query (`fiml_query`).
LIVE_TYPES = frozenset({"live_example", "fiml_example", "fiml_integration", "live_data", "market_data"})
CHART_TYPES = frozenset({"chart", "price_chart", "fiml_chart"})
QUERY_KEYS = ("fiml_query", "fiml_integration", "data", "query")

METRICS = (
    "price", "bid", "ask", "spread", "volume", "change_percent", "day_range", "high_52w", "low_52w",
    "market_cap", "pe_ratio", "dividend_yield", "beta",
)  # fmt: skip
METRIC_ALIASES = {
    "last": "price", "last_price": "price", "current_price": "price",
    "bid_price": "bid", "ask_price": "ask", "bid_ask_spread": "spread",
    "change_pct": "change_percent", "percent_change": "change_percent", "change_percentage": "change_percent", "pct_change": "change_percent",
    "day_low": "day_range", "day_high": "day_range", "low": "day_range", "high": "day_range", "days_range": "day_range",
    "week_52_high": "high_52w", "52_week_high": "high_52w", "fifty_two_week_high": "high_52w", "year_high": "high_52w",
    "week_52_low": "low_52w", "52_week_low": "low_52w", "fifty_two_week_low": "low_52w", "year_low": "low_52w",
    "marketcap": "market_cap", "market_capitalization": "market_cap", "mkt_cap": "market_cap",
    "pe": "pe_ratio", "p_e": "pe_ratio", "p_e_ratio": "pe_ratio", "price_to_earnings": "pe_ratio",
    "div_yield": "dividend_yield",
}  # fmt: skip
PERIODS = {
    "1d": "1d",
    "5d": "5d",
    "1mo": "1mo",
    "1m": "1mo",
    "3mo": "3mo",
    "3m": "3mo",
    "6mo": "6mo",
    "6m": "6mo",
    "1y": "1y",
    "12m": "1y",
    "5y": "5y",
    "max": "max",
}
CHART_KINDS = ("line", "candlestick", "bar")

QUESTION_TYPES = {
    "multiple_choice": "multiple_choice", "multiple-choice": "multiple_choice", "multiplechoice": "multiple_choice",
    "mcq": "multiple_choice", "choice": "multiple_choice", "single_choice": "multiple_choice",
    "true_false": "true_false", "true-false": "true_false", "truefalse": "true_false", "true/false": "true_false",
    "boolean": "true_false", "bool": "true_false", "tf": "true_false",
    "numeric": "numeric", "number": "numeric", "numerical": "numeric",
}  # fmt: skip


@dataclass(frozen=True)
class Upgraded:
    """The result of `upgrade_lesson`.

    `data` is the lesson in the current format (keys in the schema's order), or None when
    there are `problems`; `changed` is False when the input was already current; `notes`
    say what was mapped; `problems` name each field path that could not be mapped, and why.
    """

    data: dict[str, Any] | None
    changed: bool
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def is_current(data: dict[str, Any]) -> bool:
    """True for a lesson already in the current format (it says `format: 1`)."""
    return data.get("format") == FORMAT and not isinstance(data.get("format"), bool)


def upgrade_lesson(
    data: dict[str, Any],
    *,
    stem: str,
    first_seen: str | None,
    today: str,
    drop_fields: Iterable[str] = (),
    text_types: Iterable[str] = (),
    defaults: Mapping[str, int] | None = None,
) -> Upgraded:
    """Map one legacy lesson (as loaded from YAML) to the current format; `data` is not modified.

    `stem` is the file name without extension (used in messages only); `first_seen` is the
    date (YYYY-MM-DD) the file first appeared in history, for the changelog entry a legacy
    lesson lacks, else `today`. `drop_fields` names legacy fields whose content may be
    dropped where it has no place (otherwise a problem); `text_types` names further legacy
    section types to show as text sections. `defaults` gives values for the fields the legacy
    formats may lack (`duration_minutes`, `xp_reward`), used only where a lesson has none.
    """
    if not isinstance(data, dict):
        return Upgraded(None, False, [], [f"{stem}: the top level is not a mapping of fields"])
    if "format" in data:
        fmt = data["format"]
        if is_current(data):
            return Upgraded(copy.deepcopy(data), False, [], [])
        return Upgraded(
            None,
            False,
            [],
            [
                f"$.format: format {fmt!r} is not one this fiml-cms knows (it reads legacy lessons and format {FORMAT})"
            ],
        )
    mapper = _Mapper(
        frozenset(drop_fields), frozenset(t.strip().lower() for t in text_types), dict(defaults or {})
    )
    result = mapper.lesson(data, first_seen or today)
    if mapper.problems:
        return Upgraded(None, True, mapper.notes, mapper.problems)
    return Upgraded(result, True, mapper.notes, [])


def _path(*parts: Any) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _empty(value: Any) -> bool:
    return value is None or (
        isinstance(value, (str, list, dict)) and not (value.strip() if isinstance(value, str) else value)
    )


def _show(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def slug_id(text: str, fallback: str = "section") -> str:
    """An item id (`^[a-z][a-z0-9_]{0,31}$`) made from a legacy type or heading."""
    base = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    if not base or not base[0].isalpha():
        base = f"{fallback}_{base}".strip("_") if base else fallback
    return base[:32].rstrip("_")


def _unique(base: str, taken: set[str]) -> str:
    if base not in taken:
        return base
    n = 2
    while True:
        suffix = f"_{n}"
        candidate = base[: 32 - len(suffix)].rstrip("_") + suffix
        if candidate not in taken:
            return candidate
        n += 1


def clean_text(text: str) -> tuple[str, int]:
    """Trailing spaces removed from each line, leading/trailing blank lines removed.

    Multi-line text, and text that ended with a newline, ends with exactly one (a YAML `|`
    block); returns the count of lines that lost trailing spaces.
    """
    lines = text.split("\n")
    stripped = [line.rstrip(" \t") for line in lines]
    changed = sum(1 for a, b in zip(lines, stripped) if a != b and b.strip())
    body = "\n".join(stripped).strip("\n")
    return (body + "\n" if "\n" in body or text.endswith("\n") else body), changed


def version_of(value: Any) -> tuple[str | None, str | None]:
    """(full semver, note) for a legacy version; (None, reason) when it cannot be read."""
    if isinstance(value, bool) or (isinstance(value, (int, float)) and value < 0):
        return None, f"{value!r} is not a version"
    if isinstance(value, int):
        return f"{value}.0.0", f"version {value} -> {value}.0.0"
    if isinstance(value, float):
        text = repr(value)
        if SHORT_VERSION.match(text):
            full = version_of(text)[0]
            return (
                full,
                f"version {text} (an unquoted number) -> {full}: check it was not written with a trailing zero, e.g. 1.10",
            )
        return None, f"{value!r} is not a version"
    if not isinstance(value, str):
        return None, f"{_show(value)} is not a version"
    text = value.strip()
    if SEMVER.match(text):
        return text, None if text == value else f"version {value!r} -> {text}"
    match = SHORT_VERSION.match(text)
    if not match:
        return None, f"{value!r} is not a version (expected MAJOR.MINOR.PATCH, e.g. 1.0.0)"
    full = ".".join(part or "0" for part in match.groups())
    return full, f"version {value} -> {full}"


class _Mapper:
    def __init__(
        self,
        drop_fields: frozenset[str],
        user_text_types: frozenset[str],
        defaults: dict[str, int] | None = None,
    ) -> None:
        self.defaults = defaults or {}
        self.drop_fields = drop_fields
        self.user_text_types = user_text_types
        self.notes: list[str] = []
        self.problems: list[str] = []
        self.trimmed_lines = 0

    # -- helpers --------------------------------------------------------------------------
    def problem(self, where: str, why: str) -> None:
        self.problems.append(f"{where}: {why}")

    def note(self, text: str) -> None:
        self.notes.append(text)

    def leftover(self, mapping: dict[str, Any], used: Iterable[str | None], *parts: Any) -> None:
        """Report (or drop, when allowed or empty) the keys of `mapping` that were not mapped."""
        mapped = set(used)
        for key, value in mapping.items():
            if key in mapped:
                continue
            where = _path(*parts, key)
            if _empty(value):
                self.note(f"{where}: dropped (empty)")
            elif key in self.drop_fields:
                self.note(f"{where}: dropped {_show(value, 40)} (--drop-field {key})")
            else:
                self.problem(
                    where,
                    f"{_show(value, 40)} has no place in the current format (allow dropping it with --drop-field {key})",
                )

    def text(self, value: Any, where: str, *, required: bool = True) -> str | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.problem(where, "is missing or empty; the current format needs it")
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.problem(where, f"{_show(value)} is not text")
            return None
        if not isinstance(value, str):
            self.note(f"{where}: number {value!r} written as text")
            value = str(value)
        cleaned, trimmed = clean_text(value)
        self.trimmed_lines += trimmed
        return cleaned

    def line(self, value: Any, where: str, *, required: bool = True) -> str | None:
        """A one-line text (title, prompt, option, objective): surrounding spaces trimmed."""
        text = self.text(value, where, required=required)
        return text.strip() if text is not None and "\n" not in text.strip() else text

    def integer(self, value: Any, where: str) -> int | None:
        if isinstance(value, bool):
            self.problem(where, f"{value!r} is not a whole number")
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            self.note(f"{where}: {value!r} -> {int(value)}")
            return int(value)
        if isinstance(value, str) and value.strip().isdigit():
            self.note(f"{where}: {value!r} -> {int(value)}")
            return int(value)
        self.problem(where, f"{_show(value)} is not a whole number")
        return None

    # -- the lesson -----------------------------------------------------------------------
    def lesson(self, data: dict[str, Any], first_date: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        used = {"id", "version", "format", "title", "category", "difficulty", "duration_minutes", "xp_reward", "prerequisites", "replaces",
                "retired", "yanked", "tags", "learning_objectives", "changelog", "sections", "quiz", "estimated_completion_time"}  # fmt: skip

        lesson_id = data.get("id")
        if not isinstance(lesson_id, str) or not LESSON_ID.match(lesson_id):
            self.problem(
                "$.id",
                f"{_show(lesson_id)} is not a valid lesson id (3 to 64 lowercase letters, digits, '_'); ids never change, so it is not rewritten",
            )
        out["id"] = lesson_id

        version = "1.0.0"
        if "version" not in data or data["version"] is None:
            self.note("$.version: missing -> 1.0.0")
        else:
            full, why = version_of(data["version"])
            if full is None:
                self.problem("$.version", why or "not a version")
            else:
                version = full
                if why:
                    self.note(why)
        out["version"] = version
        out["format"] = FORMAT
        out["title"] = self.line(data.get("title"), "$.title")
        out["category"] = self.category(data.get("category"))
        out["difficulty"] = self.difficulty(data.get("difficulty"))
        out["duration_minutes"] = self.duration(data)
        if data.get("xp_reward") is None and "xp_reward" in self.defaults:
            out["xp_reward"] = self.defaults["xp_reward"]
            self.note(f"$.xp_reward: missing, set to {out['xp_reward']} (--xp)")
        elif data.get("xp_reward") is None:
            self.problem(
                "$.xp_reward",
                "is missing; the current format needs the XP a learner earns for completing the lesson (give a default with --xp N)",
            )
            out["xp_reward"] = None
        else:
            out["xp_reward"] = self.integer(data["xp_reward"], "$.xp_reward")
        for key in ("prerequisites", "replaces"):
            if key in data:
                value = self.id_list(data[key], key)
                if value is not None:
                    out[key] = value
        if "retired" in data and data["retired"] is not None:
            if isinstance(data["retired"], bool):
                out["retired"] = data["retired"]
            else:
                self.problem("$.retired", f"{_show(data['retired'])} is not true or false")
        if "yanked" in data and not _empty(data["yanked"]):
            yanked = data["yanked"] if isinstance(data["yanked"], list) else [data["yanked"]]
            out["yanked"] = []
            for i, v in enumerate(yanked):
                full, why = version_of(v)
                if full is None:
                    self.problem(_path("yanked", i), why or "not a version")
                else:
                    out["yanked"].append(full)
        if "tags" in data:
            tags = self.tags(data["tags"])
            if tags is not None:
                out["tags"] = tags
        if "learning_objectives" in data:
            objectives = self.objectives(data["learning_objectives"])
            if objectives is not None:
                out["learning_objectives"] = objectives
        out["changelog"] = self.changelog(data.get("changelog"), version, first_date)
        out["sections"] = self.sections(data.get("sections"))
        out["quiz"] = self.quiz(data.get("quiz"))
        for key in ("prerequisites", "replaces", "tags", "learning_objectives"):
            if key in data and key not in out:
                self.note(f"{_path(key)}: dropped (empty)")
        self.leftover(data, used)
        if self.trimmed_lines:
            self.note(f"trailing spaces removed from {self.trimmed_lines} line(s) of text")
        return {k: out[k] for k in LESSON_KEYS if k in out}

    def category(self, value: Any) -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.problem(
                "$.category",
                f"{_show(value)} is not a category name"
                if value is not None
                else "is missing; the current format needs a category",
            )
            return None
        slug = re.sub(r"\s+", "_", value.strip().lower())
        if not SLUG.match(slug):
            self.problem(
                "$.category",
                f"{value!r} cannot be made a category name (lowercase letters, digits, '_' or '-', starting with a letter)",
            )
            return None
        if slug != value:
            self.note(f"$.category: {value!r} -> {slug}")
        return slug

    def difficulty(self, value: Any) -> str | None:
        key = value.strip().lower() if isinstance(value, str) else None
        if key not in DIFFICULTIES:
            self.problem(
                "$.difficulty",
                f"{_show(value)} is not beginner, intermediate or advanced"
                if value is not None
                else "is missing; the current format needs beginner, intermediate or advanced",
            )
            return None
        if DIFFICULTIES[key] != value:
            self.note(f"$.difficulty: {value!r} -> {DIFFICULTIES[key]}")
        return DIFFICULTIES[key]

    def duration(self, data: dict[str, Any]) -> int | None:
        minutes, estimate = data.get("duration_minutes"), data.get("estimated_completion_time")
        if isinstance(minutes, str) and MINUTES.match(minutes):
            value: int | None = int(MINUTES.match(minutes).group(1))  # type: ignore[union-attr]
            self.note(f"$.duration_minutes: {minutes!r} -> {value}")
        elif minutes is not None:
            value = self.integer(minutes, "$.duration_minutes")
        else:
            value = None
        if estimate is None:
            if minutes is None and "duration_minutes" in self.defaults:
                self.note(
                    f"$.duration_minutes: missing, set to {self.defaults['duration_minutes']} (--duration)"
                )
                return self.defaults["duration_minutes"]
            if minutes is None:
                self.problem(
                    "$.duration_minutes",
                    "is missing; the current format needs the lesson's length in minutes (give a default with --duration N)",
                )
            return value
        match = (
            MINUTES.match(str(estimate))
            if isinstance(estimate, (str, int)) and not isinstance(estimate, bool)
            else None
        )
        parsed = int(match.group(1)) if match else None
        if minutes is None and parsed is not None:
            self.note(f"$.estimated_completion_time: {estimate!r} -> duration_minutes {parsed}")
            return parsed
        if minutes is not None and parsed == value:
            self.note(f"$.estimated_completion_time: dropped, it repeats duration_minutes ({estimate!r})")
        elif "estimated_completion_time" in self.drop_fields:
            self.note(
                f"$.estimated_completion_time: dropped {estimate!r} (--drop-field estimated_completion_time)"
            )
        elif minutes is None:
            self.problem("$.estimated_completion_time", f"{_show(estimate)} cannot be read as minutes")
        else:
            self.problem(
                "$.estimated_completion_time",
                f"{_show(estimate)} differs from duration_minutes {minutes!r} (allow dropping it with --drop-field estimated_completion_time)",
            )
        return value

    def id_list(self, value: Any, key: str) -> list[str] | None:
        if _empty(value):
            return None if value is None else []
        items = value if isinstance(value, list) else [value]
        if not isinstance(value, list):
            self.note(f"{_path(key)}: {value!r} -> [{value!r}]")
        out = []
        for i, item in enumerate(items):
            if isinstance(item, str) and LESSON_ID.match(item):
                if item not in out:
                    out.append(item)
            else:
                self.problem(_path(key, i), f"{_show(item)} is not a lesson id")
        return out

    def tags(self, value: Any) -> list[str] | None:
        if _empty(value):
            return None if value is None else []
        if not isinstance(value, list):
            self.problem("$.tags", f"{_show(value)} is not a list of keywords")
            return None
        out: list[str] = []
        for i, tag in enumerate(value):
            slug = re.sub(r"\s+", "-", tag.strip().lower()) if isinstance(tag, str) else None
            if slug is None or not SLUG.match(slug):
                self.problem(
                    _path("tags", i),
                    f"{_show(tag)} cannot be made a keyword (lowercase letters, digits, '_' or '-')",
                )
                continue
            if slug != tag:
                self.note(f"{_path('tags', i)}: {tag!r} -> {slug}")
            if slug in out:
                self.note(f"{_path('tags', i)}: {slug} repeats an earlier tag; dropped")
            else:
                out.append(slug)
        return out

    def objectives(self, value: Any) -> list[str] | None:
        if _empty(value):
            return None if value is None else []
        items = value if isinstance(value, list) else [value]
        out = []
        for i, item in enumerate(items):
            if _empty(item):
                self.note(f"{_path('learning_objectives', i)}: dropped (empty)")
                continue
            text = self.line(item, _path("learning_objectives", i))
            if text is not None:
                out.append(text)
        return out

    def changelog(self, value: Any, version: str, first_date: str) -> list[dict[str, Any]]:
        if _empty(value):
            self.note(f"$.changelog: missing -> one entry for {version} dated {first_date} ({IMPORTED!r})")
            return [{"version": version, "date": first_date, "changes": [IMPORTED]}]
        if not isinstance(value, list):
            self.problem("$.changelog", f"{_show(value)} is not a list of entries")
            return []
        entries = []
        for i, entry in enumerate(value):
            where = ("changelog", i)
            if not isinstance(entry, dict):
                self.problem(_path(*where), f"{_show(entry)} is not an entry (version, date, changes)")
                continue
            full, why = version_of(entry.get("version"))
            if full is None:
                self.problem(_path(*where, "version"), why or "not a version")
            elif why:
                self.note(f"{_path(*where, 'version')}: {why}")
            date = entry.get("date")
            if isinstance(date, dt.datetime):
                date = date.date().isoformat()
            elif isinstance(date, dt.date):
                date = date.isoformat()
            if not isinstance(date, str) or not DATE.match(date.strip()):
                self.problem(_path(*where, "date"), f"{_show(date)} is not a date (YYYY-MM-DD)")
            else:
                date = date.strip()
            changes = entry.get("changes")
            if isinstance(changes, str) and changes.strip():
                changes = [changes.strip()]
                self.note(f"{_path(*where, 'changes')}: one text -> a list of one change")
            if (
                not isinstance(changes, list)
                or not changes
                or not all(isinstance(c, str) and c.strip() for c in changes)
            ):
                self.problem(
                    _path(*where, "changes"),
                    f"{_show(changes)} is not a list of changes (one line of text each)",
                )
                changes = []
            self.leftover(entry, ("version", "date", "changes"), *where)
            entries.append({"version": full, "date": date, "changes": [c.strip() for c in changes]})
        keys = [str(e["version"]) for e in entries if e["version"]]
        if len(keys) > 1 and all(_semver_key(a) < _semver_key(b) for a, b in itertools.pairwise(keys)):
            entries.reverse()
            self.note("$.changelog: oldest-first -> newest first")
        if entries and entries[0]["version"] and entries[0]["version"] != version:
            self.problem(
                "$.changelog",
                f"the newest entry is {entries[0]['version']} but the lesson's version is {version}: add an entry for {version} at the top (its date and changes are history only an author knows)",
            )
        return entries

    # -- sections -------------------------------------------------------------------------
    def sections(self, value: Any) -> list[dict[str, Any]]:
        if not isinstance(value, list) or not value:
            self.problem(
                "$.sections",
                "is missing or empty; a lesson needs at least one section"
                if _empty(value)
                else f"{_show(value)} is not a list of sections",
            )
            return []
        taken = {
            s["id"]
            for s in value
            if isinstance(s, dict) and isinstance(s.get("id"), str) and ITEM_ID.match(s["id"])
        }
        if len(taken) != sum(
            1
            for s in value
            if isinstance(s, dict) and isinstance(s.get("id"), str) and ITEM_ID.match(s["id"])
        ):
            taken = set()  # repeated legacy ids: derive all of them
        out = []
        for i, section in enumerate(value):
            if not isinstance(section, dict):
                self.problem(_path("sections", i), f"{_show(section)} is not a section")
                continue
            legacy_type = section.get("type")
            body_keys = ("content", "body", "text", "points", "fallback", "caption", *QUERY_KEYS)
            if all(_empty(section.get(k)) for k in body_keys):
                self.note(f"{_path('sections', i)} ({legacy_type}): dropped (no content)")
                continue
            mapped = self.section(section, i)
            if mapped is None:
                continue
            legacy_id = section.get("id")
            if isinstance(legacy_id, str) and legacy_id in taken:
                sid = legacy_id
            else:
                base = (
                    slug_id(str(legacy_type))
                    if isinstance(legacy_type, str) and legacy_type.strip()
                    else "section"
                )
                sid = _unique(base, taken)
                if legacy_id is not None:
                    self.note(
                        f"{_path('sections', i, 'id')}: {legacy_id!r} is not a valid or unique id -> {sid}"
                    )
                taken.add(sid)
            mapped = {"id": sid, **mapped}
            self.note(f"{_path('sections', i)} ({legacy_type}) -> {mapped['type']} section id {sid}")
            out.append(mapped)
        return out

    def section(self, section: dict[str, Any], i: int) -> dict[str, Any] | None:
        legacy_type = section.get("type")
        kind = legacy_type.strip().lower() if isinstance(legacy_type, str) else None
        where = ("sections", i)
        query_key = next((k for k in QUERY_KEYS if isinstance(section.get(k), dict) and section[k]), None)
        if kind in CHART_TYPES and query_key:
            return self.chart_section(section, where, query_key)
        if query_key:
            return self.live_section(section, where, query_key)
        if kind in self.user_text_types:
            return self.text_section(section, where)
        if kind in LIVE_TYPES or kind in CHART_TYPES:
            self.problem(
                _path(*where),
                f"a {legacy_type} section without a data query (fiml_query: {{symbol, metrics}}): nothing to show live; show it as text with --as-text {legacy_type}",
            )
            return None
        if kind in POINT_TYPES:
            return self.points_section(section, where)
        if kind in TEXT_TYPES:
            return self.text_section(section, where)
        if kind:
            self.problem(
                _path(*where, "type"),
                f"{_show(legacy_type)} is not a section type this upgrade knows; show it as text with --as-text {legacy_type}",
            )
        else:
            self.problem(_path(*where, "type"), "is missing; cannot tell how to show this section")
        return None

    def title(self, section: dict[str, Any], where: tuple[Any, ...], out: dict[str, Any]) -> None:
        if not _empty(section.get("title")):
            out["title"] = self.line(section["title"], _path(*where, "title"))

    def content(self, section: dict[str, Any], where: tuple[Any, ...]) -> tuple[str | None, str]:
        for key in ("content", "body", "text"):
            if not _empty(section.get(key)):
                return self.text(section[key], _path(*where, key)), key
        return None, "content"

    def text_section(self, section: dict[str, Any], where: tuple[Any, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "text"}
        self.title(section, where, out)
        body, key = self.content(section, where)
        out["body"] = body
        if body is None and isinstance(section.get("points"), list):
            out["body"] = self.bullets(section["points"], where)
            key = "points"
        if out["body"] is None:
            self.problem(_path(*where), "has no text")
        self.leftover(section, ("id", "type", "title", key), *where)
        return out

    def bullets(self, points: list[Any], where: tuple[Any, ...]) -> str | None:
        lines = []
        for j, point in enumerate(points):
            text = self.line(point, _path(*where, "points", j))
            if text is not None:
                lines.append(f"- {text}")
        return "\n".join(lines) + "\n" if lines else None

    def points_section(self, section: dict[str, Any], where: tuple[Any, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "key_points"}
        points: list[str | None]
        self.title(section, where, out)
        if isinstance(section.get("points"), list) and section["points"]:
            points = [
                self.line(p, _path(*where, "points", j))
                for j, p in enumerate(section["points"])
                if not _empty(p)
            ]
            used = "points"
            if not _empty(section.get("content")):
                self.problem(
                    _path(*where, "content"),
                    "a key-points section with both `points` and `content`: the text has no place next to the points",
                )
        else:
            text, used = self.content(section, where)
            parsed = _list_of_points(text or "", has_title="title" in out)
            if parsed is None:
                out = {"type": "text", **({"title": out["title"]} if "title" in out else {}), "body": text}
                self.note(f"{_path(*where)}: the text is not a plain list, so it stays a text section")
                self.leftover(section, ("id", "type", "title", used), *where)
                return out
            heading, found = parsed
            points = list(found)
            if heading:
                out["title"] = heading
                self.note(f"{_path(*where)}: heading {heading!r} -> title")
        if len(points) > 12 or any(p is not None and len(p) > 400 for p in points):
            out = {
                "type": "text",
                **({"title": out["title"]} if "title" in out else {}),
                "body": "\n".join(f"- {p}" for p in points if p) + "\n",
            }
            self.note(
                f"{_path(*where)}: more than 12 points or a point over 400 characters, so it stays a text section (a bulleted list)"
            )
        else:
            out["points"] = [p for p in points if p is not None]
        self.leftover(section, ("id", "type", "title", used), *where)
        return out

    def query(
        self, section: dict[str, Any], where: tuple[Any, ...], query_key: str | None
    ) -> tuple[dict[str, Any], tuple[Any, ...]] | None:
        if query_key is None:
            self.problem(
                _path(*where),
                "a live example without a data query (fiml_query: {symbol, metrics}); nothing to show live",
            )
            return None
        query = section[query_key]
        qwhere = (*where, query_key)
        symbol = query.get("symbol")
        if not isinstance(symbol, str) or not SYMBOL.match(symbol.strip().upper()):
            self.problem(_path(*qwhere, "symbol"), f"{_show(symbol)} is not a ticker symbol")
            symbol = None
        elif symbol != symbol.strip().upper():
            self.note(f"{_path(*qwhere, 'symbol')}: {symbol!r} -> {symbol.strip().upper()}")
        return {
            "symbol": symbol.strip().upper() if symbol else None,
            **{k: v for k, v in query.items() if k != "symbol"},
        }, qwhere

    def live_section(
        self, section: dict[str, Any], where: tuple[Any, ...], query_key: str | None
    ) -> dict[str, Any] | None:
        found = self.query(section, where, query_key)
        if found is None:
            return None
        query, qwhere = found
        out: dict[str, Any] = {"type": "live_example"}
        self.title(section, where, out)
        metrics = self.metrics(query.get("metrics"), qwhere)
        out["data"] = {"symbol": query["symbol"], "metrics": metrics}
        self.leftover(query, ("symbol", "metrics"), *qwhere)
        used: list[str] = ["id", "type", "title", query_key or "data"]
        if not _empty(section.get("fallback")):  # already the current shape: optional body, then fallback
            fallback, key = self.text(section["fallback"], _path(*where, "fallback")), "fallback"
            body, body_key = self.content(section, where)
            if body is not None:
                out["body"] = body
                used.append(body_key)
        else:
            fallback, key = self.content(section, where)
            if fallback is not None:
                self.note(f"{_path(*where, key)} -> fallback (shown when no data provider is reachable)")
        used.append(key)
        if fallback is None:
            self.problem(
                _path(*where, "content"),
                "a live example needs text to show when no data provider is reachable (the current format's `fallback`)",
            )
        for field_key, text in ((key, fallback), ("body", out.get("body"))):
            holes = sorted(set(PLACEHOLDER.findall(text or "")))
            if holes:
                self.problem(
                    _path(*where, field_key),
                    f"the text is a template with data placeholders ({', '.join(holes)}); the current format shows it as written when no provider is reachable, so it needs stated example figures instead",
                )
        out["fallback"] = fallback
        self.leftover(section, used, *where)
        return out

    def metrics(self, value: Any, qwhere: tuple[Any, ...]) -> list[str]:
        where = _path(*qwhere, "metrics")
        if _empty(value):
            self.problem(
                where, "the data query names no metrics; the current format needs at least one (e.g. price)"
            )
            return []
        items = value if isinstance(value, list) else [value]
        out: list[str] = []
        for j, item in enumerate(items):
            name = item.strip().lower() if isinstance(item, str) else None
            mapped = name if name in METRICS else METRIC_ALIASES.get(name or "")
            if mapped is None:
                if "metrics" in self.drop_fields:
                    self.note(
                        f"{where}[{j}]: dropped unsupported metric {_show(item)} (--drop-field metrics)"
                    )
                else:
                    self.problem(
                        f"{where}[{j}]",
                        f"{_show(item)} is not a metric the current format can show ({', '.join(METRICS)}); drop unsupported metrics with --drop-field metrics",
                    )
                continue
            if mapped != item:
                self.note(f"{where}[{j}]: {item!r} -> {mapped}")
            if mapped not in out:
                out.append(mapped)
        if not out and not any(p.startswith(where) for p in self.problems):
            self.problem(where, "no metric the current format can show is left")
        return out

    def chart_section(
        self, section: dict[str, Any], where: tuple[Any, ...], query_key: str | None
    ) -> dict[str, Any] | None:
        found = self.query(section, where, query_key)
        if found is None:
            return None
        query, qwhere = found
        out: dict[str, Any] = {"type": "chart"}
        self.title(section, where, out)
        period_key = next((k for k in ("period", "timeframe", "range") if k in query), None)
        period = PERIODS.get(str(query.get(period_key, "")).strip().lower()) if period_key else None
        if period is None:
            self.problem(
                _path(*qwhere, period_key or "period"),
                f"{_show(query.get(period_key)) if period_key else 'missing'}: the chart period must be one of {', '.join(sorted(set(PERIODS.values())))}",
            )
        kind_key = next((k for k in ("kind", "chart_type", "style") if k in query), None)
        kind = str(query.get(kind_key)).strip().lower() if kind_key else "line"
        if kind not in CHART_KINDS:
            self.problem(
                _path(*qwhere, kind_key or "kind"),
                f"{_show(query.get(kind_key or 'kind'))} is not a chart kind ({', '.join(CHART_KINDS)})",
            )
        elif kind_key is None:
            self.note(f"{_path(*qwhere)}: no chart kind -> line")
        out["data"] = {"symbol": query["symbol"], "period": period, "kind": kind}
        self.leftover(query, ("symbol", period_key or "period", kind_key or "kind"), *qwhere)
        caption = section.get("caption")
        if not _empty(caption):
            out["caption"] = self.line(caption, _path(*where, "caption"))
        if not _empty(section.get("fallback")):
            fallback, key = self.text(section["fallback"], _path(*where, "fallback")), "fallback"
        else:
            fallback, key = self.content(section, where)
            if fallback is not None:
                self.note(f"{_path(*where, key)} -> fallback (shown when no data provider is reachable)")
        if fallback is None:
            self.problem(
                _path(*where, "content"),
                "a chart needs text to show when no data provider is reachable (the current format's `fallback`)",
            )
        out["fallback"] = fallback
        self.leftover(section, ("id", "type", "title", "caption", key, query_key), *where)
        return out

    # -- the quiz -------------------------------------------------------------------------
    def quiz(self, value: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        questions: Any
        base: tuple[str, ...]
        if isinstance(value, list):
            questions, base = value, ("quiz",)
            self.note("$.quiz: a bare list of questions -> quiz.questions")
        elif isinstance(value, dict):
            questions, base = value.get("questions"), ("quiz", "questions")
            if "pass_ratio" in value and value["pass_ratio"] is not None:
                ratio = value["pass_ratio"]
                if isinstance(ratio, (int, float)) and not isinstance(ratio, bool) and 0 < ratio <= 1:
                    out["pass_ratio"] = ratio
                else:
                    self.problem("$.quiz.pass_ratio", f"{_show(ratio)} is not a share between 0 and 1")
            self.leftover(value, ("questions", "pass_ratio"), "quiz")
        else:
            questions, base = None, ("quiz",)
        if not isinstance(questions, list) or not questions:
            self.problem(
                _path(*base), "the lesson has no quiz questions; the current format needs at least one"
            )
            out["questions"] = []
            return out
        taken: set[str] = set()
        legacy_ids = [q.get("id") if isinstance(q, dict) else None for q in questions]
        valid = [i for i in legacy_ids if isinstance(i, str) and ITEM_ID.match(i)]
        keep = {i for i in valid if valid.count(i) == 1}
        taken |= keep
        out["questions"] = []
        for n, question in enumerate(questions):
            where = (*base, n)
            if not isinstance(question, dict):
                self.problem(_path(*where), f"{_show(question)} is not a question")
                continue
            qid = question.get("id")
            if not (isinstance(qid, str) and qid in keep):
                new_id = _unique(f"q{n + 1}", taken)
                taken.add(new_id)
                self.note(
                    f"{_path(*where, 'id')}: {'missing' if qid is None else repr(qid) + ' is not a valid or unique id'} -> {new_id}"
                )
                qid = new_id
            mapped = self.question(question, where)
            if mapped is not None:
                out["questions"].append({"id": qid, **mapped})
        return out

    def question(self, q: dict[str, Any], where: tuple[Any, ...]) -> dict[str, Any] | None:
        used = {"id", "type"}
        legacy_type = q.get("type")
        kind = QUESTION_TYPES.get(legacy_type.strip().lower()) if isinstance(legacy_type, str) else None
        if legacy_type is None:
            if "options" in q:
                kind = "multiple_choice"
            elif any(isinstance(q.get(k), bool) for k in ("correct_answer", "correct", "answer")):
                kind = "true_false"
            if kind:
                self.note(f"{_path(*where, 'type')}: missing -> {kind}")
        elif kind is None:
            self.problem(
                _path(*where, "type"), f"{_show(legacy_type)} is not multiple_choice, true_false or numeric"
            )
            return None
        elif kind != legacy_type:
            self.note(f"{_path(*where, 'type')}: {legacy_type!r} -> {kind}")
        if kind is None:
            self.problem(_path(*where, "type"), "is missing and cannot be told from the question")
            return None
        out: dict[str, Any] = {"type": kind}
        prompt_key = next((k for k in ("prompt", "text", "question") if not _empty(q.get(k))), "prompt")
        used.add(prompt_key)
        out["prompt"] = self.line(q.get(prompt_key), _path(*where, prompt_key))
        if kind == "multiple_choice":
            used |= self.choice(q, where, out)
        elif kind == "true_false":
            used |= self.true_false(q, where, out)
        else:
            used |= self.numeric(q, where, out)
        if _empty(q.get("explanation")):
            self.problem(
                _path(*where, "explanation"),
                "is missing; the current format shows an explanation after each answer: write one",
            )
            out["explanation"] = None
        else:
            out["explanation"] = self.line(q["explanation"], _path(*where, "explanation"))
        used.add("explanation")
        xp_keys = [k for k in ("xp", "xp_reward", "points") if q.get(k) is not None]
        values = {k: self.integer(q[k], _path(*where, k)) for k in xp_keys}
        if len(set(values.values())) > 1:
            self.problem(_path(*where, xp_keys[1]), f"the XP values {values} disagree")
        elif xp_keys and values[xp_keys[0]] is not None:
            out["xp"] = values[xp_keys[0]]
            if xp_keys[0] != "xp":
                self.note(f"{_path(*where, xp_keys[0])} -> xp")
        used |= set(xp_keys)
        self.leftover(q, used, *where)
        order = ("type", "prompt", "options", "answer", "tolerance", "unit", "explanation", "xp")
        return {k: out[k] for k in order if k in out}

    def choice(self, q: dict[str, Any], where: tuple[Any, ...], out: dict[str, Any]) -> set[str]:
        used = {"options"}
        options = q.get("options")
        if not isinstance(options, list) or not options:
            self.problem(_path(*where, "options"), "a multiple-choice question needs a list of options")
            return used
        texts: list[str | None] = []
        flagged: list[int] = []
        flag_keys = set()
        for j, option in enumerate(options):
            owhere = (*where, "options", j)
            if isinstance(option, dict):
                text_key = next((k for k in ("text", "label", "option") if k in option), "text")
                texts.append(self.line(option.get(text_key), _path(*owhere, text_key)))
                flag = next((k for k in ("is_correct", "correct") if k in option), None)
                if flag is not None:
                    flag_keys.add(flag)
                    if not isinstance(option[flag], bool):
                        self.problem(_path(*owhere, flag), f"{_show(option[flag])} is not true or false")
                    elif option[flag]:
                        flagged.append(j)
                self.leftover(option, (text_key, flag) if flag else (text_key,), *owhere)
            elif isinstance(option, (str, int, float)) and not isinstance(option, bool):
                texts.append(self.line(option, _path(*owhere)))
            else:
                self.problem(_path(*owhere), f"{_show(option)} is not an option")
                texts.append(None)
        out["options"] = texts
        by_key: dict[str, int] = {}
        if flag_keys:
            if len(flagged) != 1:
                which = (
                    "no option is"
                    if not flagged
                    else "options " + ", ".join(str(j) for j in flagged) + " are"
                )
                self.problem(
                    _path(*where, "options"),
                    f"{which} marked correct; the current format has exactly one correct option",
                )
            else:
                by_key["options"] = flagged[0]
        for key in ("correct", "correct_answer", "answer"):
            if key not in q:
                continue
            used.add(key)
            value = q[key]
            if isinstance(value, int) and not isinstance(value, bool):
                if 0 <= value < len(texts):
                    by_key[key] = value
                else:
                    self.problem(
                        _path(*where, key),
                        f"index {value} is not one of the {len(texts)} options (indexes start at 0)",
                    )
            elif isinstance(value, str) and value.strip() in [t for t in texts if t]:
                by_key[key] = list(texts).index(value.strip())
            else:
                self.problem(_path(*where, key), f"{_show(value)} is neither an option's index nor its text")
        found = set(by_key.values())
        if len(found) > 1:
            self.problem(
                _path(*where),
                f"the correct answer is given more than once and disagrees: {', '.join(f'{k} -> option {v}' for k, v in by_key.items())}",
            )
        elif found:
            out["answer"] = found.pop()
            self.note(
                f"{_path(*where)}: correct option ({', '.join(k if k != 'options' else next(iter(flag_keys)) for k in by_key)}) -> answer {out['answer']}"
            )
        elif not any(p.startswith(_path(*where)) for p in self.problems):
            self.problem(_path(*where), "no correct answer is given (is_correct / correct / correct_answer)")
        return used

    def true_false(self, q: dict[str, Any], where: tuple[Any, ...], out: dict[str, Any]) -> set[str]:
        used: set[str] = set()
        answers: dict[str, bool] = {}
        for key in ("correct_answer", "correct", "answer"):
            if key not in q:
                continue
            used.add(key)
            value = q[key]
            if isinstance(value, str) and value.strip().lower() in ("true", "false"):
                self.note(f"{_path(*where, key)}: text {value!r} -> {value.strip().lower()}")
                value = value.strip().lower() == "true"
            if isinstance(value, bool):
                answers[key] = value
            elif (
                isinstance(value, int)
                and isinstance(q.get("options"), list)
                and 0 <= value < len(q["options"])
            ):
                pass  # an index into ["True", "False"]: read below
            else:
                self.problem(_path(*where, key), f"{_show(value)} is not true or false")
        options = q.get("options")
        if options is not None:
            used.add("options")
            labels = (
                [str(o.get("text") if isinstance(o, dict) else o).strip().lower() for o in options]
                if isinstance(options, list)
                else []
            )
            index = next(
                (
                    q[k]
                    for k in ("correct", "correct_answer", "answer")
                    if isinstance(q.get(k), int) and not isinstance(q.get(k), bool)
                ),
                None,
            )
            flags = (
                [
                    j
                    for j, o in enumerate(options)
                    if isinstance(o, dict) and (o.get("is_correct") is True or o.get("correct") is True)
                ]
                if isinstance(options, list)
                else []
            )
            if sorted(labels) == ["false", "true"] and (index is not None or len(flags) == 1):
                answers["options"] = labels[index if index is not None else flags[0]] == "true"
                self.note(f"{_path(*where, 'options')}: true/false options -> answer")
            elif not answers:
                self.problem(
                    _path(*where, "options"),
                    "a true/false question whose options are not just True and False",
                )
        if len(set(answers.values())) > 1:
            self.problem(_path(*where), f"the answer is given more than once and disagrees: {answers}")
        elif answers:
            out["answer"] = next(iter(answers.values()))
            self.note(f"{_path(*where)}: {', '.join(answers)} -> answer {str(out['answer']).lower()}")
        elif not any(p.startswith(_path(*where)) for p in self.problems):
            self.problem(_path(*where), "no answer is given (correct_answer: true or false)")
        return used

    def numeric(self, q: dict[str, Any], where: tuple[Any, ...], out: dict[str, Any]) -> set[str]:
        used: set[str] = set()
        key = next((k for k in ("answer", "correct_answer", "correct") if k in q), None)
        if key is None:
            self.problem(_path(*where), "no answer is given")
        else:
            used.add(key)
            value = q[key]
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out["answer"] = value
            else:
                self.problem(_path(*where, key), f"{_show(value)} is not a number")
        for extra in ("tolerance", "unit"):
            if q.get(extra) is not None:
                out[extra] = q[extra]
                used.add(extra)
        return used


def _list_of_points(text: str, *, has_title: bool) -> tuple[str | None, list[str]] | None:
    """(heading, points) when `text` is an optional `Heading:` line and a plain list; else None."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    heading = None
    if (
        lines
        and not LIST_ITEM.match(lines[0])
        and lines[0].endswith(":")
        and not has_title
        and len(lines) > 1
    ):
        heading = lines.pop(0)[:-1].strip()
        if not heading or len(heading) > 120:
            return None
    points = []
    for line in lines:
        match = LIST_ITEM.match(line)
        if not match:
            return None
        points.append(match.group(1).strip())
    return (heading, points) if points else None


def _semver_key(version: str) -> tuple[int, int, int]:
    major, minor, patch = (int(re.match(r"\d+", p).group()) for p in version.split(".")[:3])  # type: ignore[union-attr]
    return major, minor, patch
