"""Migrations of progress documents from older schema versions, one step at a time.

`MIGRATIONS` maps a schema version to the step that lifts a document from it to the next version;
`migrate` applies the steps in turn until the document is at `CURRENT_VERSION`. Each step receives
its own deep copy, so the caller's document is never changed (nor is any intermediate one). Adding
1.1 later means: a `@step("1.0", "1.1")` function, `CURRENT_VERSION = "1.1"`, and the 1.1 shape in
the schema.

0.9 -> 1.0 (the older shape has no lesson versions, one completion per lesson, only an XP total):

* **Lesson versions** (`resolve_version`): the version the learner most likely had. The moment that
  counts is `completed_at` for a completed lesson and for a completion, else `started_at` (else
  `last_accessed`). With content: the newest published version whose changelog date is on or before
  that day (UTC); if no date can be determined (none given, none matching), the oldest published
  version; for a lesson the content does not know, or with no content at all, "1.0.0".
* **The XP ledger**: each completion that earned XP becomes a `lesson:<id>` entry (the key the tutor
  pays a lesson under, so a retake after the import does not pay the lesson again). The rest of the
  total is credited on import as one `import-adjust:<user>:<total>` entry.
* **Completions**: each becomes attempt 1, in `completion_history` and `lesson_completions`; a
  completed lesson without a `lessons` entry gets one (status completed), since the tutor marks a
  lesson done by its progress record.
* **The learner**: `telegram_123` (the seed's ids) and a bare number become `telegram:123`; the time
  zone is UTC, the freeze ready; `last_active_day` is the UTC day of the newest timestamp in the
  document when the streak is above 0 (the streak counted up to the last activity), and
  `created_at` the oldest timestamp.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fiml_bot.tutor import gamification
from fiml_bot.tutor.ports import Content
from fiml_cms import versions
from fiml_cms.errors import FimlError

from .codec import CURRENT_VERSION, parse_timestamp

FALLBACK_VERSION = "1.0.0"


@dataclass(frozen=True)
class MigrationContext:
    """What a step may consult (the content), and where it leaves notes for the operator."""

    content: Content | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Migration:
    source: str
    target: str
    apply: Callable[[dict[str, Any], MigrationContext], dict[str, Any]]  # gets a private copy; may edit it

    @property
    def label(self) -> str:
        return f"{self.source} -> {self.target}"


MIGRATIONS: dict[str, Migration] = {}


def step(
    source: str, target: str
) -> Callable[
    [Callable[[dict[str, Any], MigrationContext], dict[str, Any]]],
    Callable[[dict[str, Any], MigrationContext], dict[str, Any]],
]:
    """Register a migration step from `source` to `target` (one per source version)."""

    def register(
        function: Callable[[dict[str, Any], MigrationContext], dict[str, Any]],
    ) -> Callable[[dict[str, Any], MigrationContext], dict[str, Any]]:
        if source in MIGRATIONS:
            raise ValueError(f"a migration from schema version {source} is already registered")
        MIGRATIONS[source] = Migration(source, target, function)
        return function

    return register


def supported_versions() -> list[str]:
    return sorted({CURRENT_VERSION, *MIGRATIONS}, key=lambda v: tuple(int(p) for p in v.split(".")))


class UnknownSchemaVersion(FimlError, ValueError):
    """A document's schema_version this code has no migration from (exit 1)."""

    exit_code = 1


def migrate(
    document: dict[str, Any], context: MigrationContext | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The document at the current schema version, and the steps taken ("0.9 -> 1.0").

    Never changes `document`: each step works on a deep copy of its input. A document already at the
    current version is returned as it is (the caller must not change it either).
    """
    context = context or MigrationContext()
    current = document
    version = document.get("schema_version")
    taken: list[str] = []
    while version != CURRENT_VERSION:
        migration = MIGRATIONS.get(version) if isinstance(version, str) else None
        if migration is None:
            raise UnknownSchemaVersion(
                f"unknown schema_version {version!r}: this fiml-bot reads {', '.join(supported_versions())}"
            )
        if len(taken) > len(MIGRATIONS):  # pragma: no cover - a registry with a cycle
            raise RuntimeError(f"migration steps loop: {taken}")
        current = migration.apply(copy.deepcopy(current), context)
        if current.get("schema_version") != migration.target:  # pragma: no cover - a broken step
            raise RuntimeError(
                f"migration {migration.label} produced schema_version {current.get('schema_version')!r}"
            )
        taken.append(migration.label)
        version = migration.target
    return current, taken


# -- learner ids -------------------------------------------------------------------------

_SEED_ID = re.compile(r"^([a-z][a-z0-9]*)_(\d+)$")


def normalize_learner_id(text: str) -> str:
    """`123` -> `telegram:123` (the bot's platform); `telegram_123` (the seed's ids) -> `telegram:123`.

    Anything else (`telegram:123`, `console:local`) is returned as it is.
    """
    text = text.strip()
    if text.isdigit():
        return f"telegram:{text}"
    match = _SEED_ID.match(text)
    if match:
        return f"{match.group(1)}:{match.group(2)}"
    return text


# -- lesson versions ---------------------------------------------------------------------


def _release_day(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None


def resolve_version(
    content: Content | None, lesson_id: str, at: dt.datetime | None, notes: list[str] | None = None
) -> str:
    """The published version of `lesson_id` a learner most likely had at `at` (see the module docstring).

    When it has to fall back to "1.0.0" (no content, or a lesson the content does not know), it says
    so in `notes`.
    """
    if content is None:
        if notes is not None:
            notes.append(
                f"no content to look lesson versions up in: version {FALLBACK_VERSION} assumed for every lesson"
            )
        return FALLBACK_VERSION
    try:
        published = [v for v in content.versions(lesson_id) if versions.is_valid(v)]
    except (FimlError, LookupError, ValueError):
        published = []
    if not published:
        if notes is not None:
            notes.append(
                f"lesson {lesson_id}: not published in the content; version {FALLBACK_VERSION} assumed"
            )
        return FALLBACK_VERSION
    published.sort(key=versions.sort_key)
    if at is not None:
        try:
            changelog = content.latest(lesson_id).changelog
        except (FimlError, LookupError, ValueError):
            changelog = ()
        released = {entry.version: _release_day(entry.date) for entry in changelog}
        day = at.astimezone(dt.UTC).date()
        candidates = [v for v in published if (released.get(v) is not None and released[v] <= day)]  # type: ignore[operator]
        if candidates:
            return candidates[-1]
    return published[0]


# -- 0.9 -> 1.0 --------------------------------------------------------------------------


def _moment(text: Any) -> dt.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return parse_timestamp(text)
    except ValueError:
        return None


Resolve = Callable[[str, Any], str]  # (lesson id, the moment that counts) -> the version


@step("0.9", "1.0")
def _from_0_9(document: dict[str, Any], context: MigrationContext) -> dict[str, Any]:
    content = context.content

    def resolve(lesson_id: str, at: Any) -> str:
        return resolve_version(content, lesson_id, _moment(at), context.notes)

    completions_in: dict[str, dict[str, Any]] = document.get("lesson_completions", {})
    lessons_in: dict[str, dict[str, Any]] = document.get("lessons", {})
    completions = _completions_1_0(completions_in, resolve)  # resolved first: the notes keep that order
    lessons = _lessons_1_0(lessons_in, completions, resolve)
    history = sorted(
        ({"lesson_id": lesson_id, **entry} for lesson_id, entry in completions.items()),
        key=lambda c: _moment(c["completed_at"]) or dt.datetime.min.replace(tzinfo=dt.UTC),
    )
    moments = _moments(lessons_in, completions_in)
    game = document["gamification"]
    last_active_day = moments[-1][0].date().isoformat() if moments and game["streak_days"] > 0 else None
    return {
        "user_id": normalize_learner_id(document["user_id"]),
        "schema_version": "1.0",
        "profile": {
            "name": "",
            "time_zone": "UTC",
            "active": True,
            "created_at": moments[0][1] if moments else None,
        },
        "lessons": {lesson_id: lessons[lesson_id] for lesson_id in sorted(lessons)},
        "lesson_completions": {lesson_id: completions[lesson_id] for lesson_id in sorted(completions)},
        "completion_history": history,
        "gamification": {
            "total_xp": game["total_xp"],
            "level": game["level"],
            "badges": list(game["badges"]),
            "streak_days": game["streak_days"],
            "last_active_day": last_active_day,
            "freeze_available": True,
            "freeze_used_on": None,
            "xp_ledger": _ledger(history),
        },
    }


def _completions_1_0(
    completions_in: dict[str, dict[str, Any]], resolve: Resolve
) -> dict[str, dict[str, Any]]:
    """Each 0.9 completion as attempt 1, at the version published when it was completed."""
    completions: dict[str, dict[str, Any]] = {}
    for lesson_id, entry in completions_in.items():
        version = resolve(lesson_id, entry.get("completed_at"))
        completions[lesson_id] = {
            "completed_at": entry["completed_at"],
            "version": version,
            "attempt": 1,
            "xp_earned": entry["xp_earned"],
            "quiz_score": entry["quiz_score"],
            "quiz_total": entry["quiz_total"],
        }
    return completions


def _lessons_1_0(
    lessons_in: dict[str, dict[str, Any]], completions: dict[str, dict[str, Any]], resolve: Resolve
) -> dict[str, dict[str, Any]]:
    """The 1.0 progress records: one per 0.9 lesson, plus one per completion without a lesson entry."""
    lessons: dict[str, dict[str, Any]] = {}
    for lesson_id, entry in lessons_in.items():
        done = completions.get(lesson_id)
        if entry["status"] == "completed":
            at = done["completed_at"] if done else entry.get("last_accessed")
        else:
            at = entry.get("started_at") or entry.get("last_accessed")
        version = done["version"] if done and entry["status"] == "completed" else resolve(lesson_id, at)
        completed_at = (
            done["completed_at"]
            if done
            else (entry.get("last_accessed") if entry["status"] == "completed" else None)
        )
        completed_version = done["version"] if done else (version if entry["status"] == "completed" else None)
        lessons[lesson_id] = {
            "version": version,
            "status": entry["status"],
            "sections_completed": list(entry["sections_completed"]),
            "current_section": entry.get("current_section"),
            "started_at": entry.get("started_at"),
            "last_accessed": entry.get("last_accessed"),
            "attempt": 1,
            "answers": [],
            "completed_version": completed_version,
            "completed_at": completed_at,
            "seen_version": version,
            "pending_choice": None,
        }
    for lesson_id, done in completions.items():
        if lesson_id not in lessons:  # the tutor marks a lesson done by its progress record
            lessons[lesson_id] = {
                "version": done["version"],
                "status": "completed",
                "sections_completed": [],
                "current_section": None,
                "started_at": None,
                "last_accessed": done["completed_at"],
                "attempt": 1,
                "answers": [],
                "completed_version": done["version"],
                "completed_at": done["completed_at"],
                "seen_version": done["version"],
                "pending_choice": None,
            }
    return lessons


def _ledger(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A `lesson:<id>` XP entry per completion that earned XP, in the order they were completed."""
    return [
        {
            "key": gamification.lesson_key(entry["lesson_id"]),
            "amount": entry["xp_earned"],
            "reason": gamification.REASON_LESSON,
            "lesson_id": entry["lesson_id"],
            "version": entry["version"],
            "awarded_at": entry["completed_at"],
        }
        for entry in history
        if entry["xp_earned"] > 0
    ]


def _moments(
    lessons_in: dict[str, dict[str, Any]], completions_in: dict[str, dict[str, Any]]
) -> list[tuple[dt.datetime, Any]]:
    """Every readable timestamp in the document, oldest first, with its text as written."""
    moments = [
        (m, text)
        for entry in lessons_in.values()
        for text in (entry.get("started_at"), entry.get("last_accessed"))
        if (m := _moment(text)) is not None
    ] + [
        (m, entry["completed_at"])
        for entry in completions_in.values()
        if (m := _moment(entry["completed_at"])) is not None
    ]
    moments.sort(key=lambda pair: pair[0])
    return moments
