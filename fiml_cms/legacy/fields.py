"""The lesson's top-level fields: id, version, title, category, difficulty, length, XP, lists."""

from __future__ import annotations

import re
from typing import Any

from fiml_cms.document import LESSON_ID

from .changelog import changelog
from .questions import quiz
from .reading import Reading, is_empty, json_path, shown, version_of
from .sections import sections
from .vocabulary import DIFFICULTIES, FORMAT, LESSON_KEYS, MINUTES, SLUG

#: The legacy fields `lesson` reads (`estimated_completion_time` is read into `duration_minutes`).
_MAPPED = frozenset({*LESSON_KEYS, "estimated_completion_time"})


def lesson(reading: Reading, data: dict[str, Any], first_date: str) -> dict[str, Any]:
    """The whole lesson in the current format, keys in the schema's order; problems go to `reading`."""
    out: dict[str, Any] = {"id": _lesson_id(reading, data.get("id"))}
    out["version"] = version = _version(reading, data)
    out["format"] = FORMAT
    out["title"] = reading.line(data.get("title"), "$.title")
    out["category"] = _category(reading, data.get("category"))
    out["difficulty"] = _difficulty(reading, data.get("difficulty"))
    out["duration_minutes"] = _duration(reading, data)
    out["xp_reward"] = _xp_reward(reading, data)
    out.update(_optional_fields(reading, data))
    out["changelog"] = changelog(reading, data.get("changelog"), version, first_date)
    out["sections"] = sections(reading, data.get("sections"))
    out["quiz"] = quiz(reading, data.get("quiz"))
    for key in ("prerequisites", "replaces", "tags", "learning_objectives"):
        if key in data and key not in out:
            reading.note(f"{json_path(key)}: dropped (empty)")
    reading.leftover(data, _MAPPED)
    if reading.trimmed_lines:
        reading.note(f"trailing spaces removed from {reading.trimmed_lines} line(s) of text")
    return {k: out[k] for k in LESSON_KEYS if k in out}


def _lesson_id(reading: Reading, lesson_id: Any) -> Any:
    """The id as it is: ids never change, so a bad one is a problem, not rewritten."""
    if not isinstance(lesson_id, str) or not LESSON_ID.match(lesson_id):
        reading.problem(
            "$.id",
            f"{shown(lesson_id)} is not a valid lesson id (3 to 64 lowercase letters, digits, '_'); ids never change, so it is not rewritten",
        )
    return lesson_id


def _version(reading: Reading, data: dict[str, Any]) -> str:
    """The full version; 1.0.0 when there is none (or none that can be read, which is a problem)."""
    if "version" not in data or data["version"] is None:
        reading.note("$.version: missing -> 1.0.0")
        return "1.0.0"
    full, why = version_of(data["version"])
    if full is None:
        reading.problem("$.version", why or "not a version")
        return "1.0.0"
    if why:
        reading.note(why)
    return full


def _xp_reward(reading: Reading, data: dict[str, Any]) -> int | None:
    if data.get("xp_reward") is None and "xp_reward" in reading.defaults:
        reading.note(f"$.xp_reward: missing, set to {reading.defaults['xp_reward']} (--xp)")
        return reading.defaults["xp_reward"]
    if data.get("xp_reward") is None:
        reading.problem(
            "$.xp_reward",
            "is missing; the current format needs the XP a learner earns for completing the lesson (give a default with --xp N)",
        )
        return None
    return reading.integer(data["xp_reward"], "$.xp_reward")


def _optional_fields(reading: Reading, data: dict[str, Any]) -> dict[str, Any]:
    """prerequisites, replaces, retired, yanked, tags and learning_objectives, where the lesson has them."""
    out: dict[str, Any] = {}
    for key in ("prerequisites", "replaces"):
        if key in data:
            value = _id_list(reading, data[key], key)
            if value is not None:
                out[key] = value
    if "retired" in data and data["retired"] is not None:
        if isinstance(data["retired"], bool):
            out["retired"] = data["retired"]
        else:
            reading.problem("$.retired", f"{shown(data['retired'])} is not true or false")
    if "yanked" in data and not is_empty(data["yanked"]):
        out["yanked"] = _yanked(reading, data["yanked"])
    if "tags" in data:
        tags = _tags(reading, data["tags"])
        if tags is not None:
            out["tags"] = tags
    if "learning_objectives" in data:
        objectives = _objectives(reading, data["learning_objectives"])
        if objectives is not None:
            out["learning_objectives"] = objectives
    return out


def _yanked(reading: Reading, value: Any) -> list[str]:
    out = []
    for i, v in enumerate(value if isinstance(value, list) else [value]):
        full, why = version_of(v)
        if full is None:
            reading.problem(json_path("yanked", i), why or "not a version")
        else:
            out.append(full)
    return out


def _category(reading: Reading, value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        reading.problem(
            "$.category",
            f"{shown(value)} is not a category name"
            if value is not None
            else "is missing; the current format needs a category",
        )
        return None
    slug = re.sub(r"\s+", "_", value.strip().lower())
    if not SLUG.match(slug):
        reading.problem(
            "$.category",
            f"{value!r} cannot be made a category name (lowercase letters, digits, '_' or '-', starting with a letter)",
        )
        return None
    if slug != value:
        reading.note(f"$.category: {value!r} -> {slug}")
    return slug


def _difficulty(reading: Reading, value: Any) -> str | None:
    key = value.strip().lower() if isinstance(value, str) else None
    if key not in DIFFICULTIES:
        reading.problem(
            "$.difficulty",
            f"{shown(value)} is not beginner, intermediate or advanced"
            if value is not None
            else "is missing; the current format needs beginner, intermediate or advanced",
        )
        return None
    if DIFFICULTIES[key] != value:
        reading.note(f"$.difficulty: {value!r} -> {DIFFICULTIES[key]}")
    return DIFFICULTIES[key]


def _duration(reading: Reading, data: dict[str, Any]) -> int | None:
    minutes, estimate = data.get("duration_minutes"), data.get("estimated_completion_time")
    written = MINUTES.match(minutes) if isinstance(minutes, str) else None
    if written is not None:
        value: int | None = int(written.group(1))
        reading.note(f"$.duration_minutes: {minutes!r} -> {value}")
    elif minutes is not None:
        value = reading.integer(minutes, "$.duration_minutes")
    else:
        value = None
    if estimate is None:
        if minutes is None and "duration_minutes" in reading.defaults:
            reading.note(
                f"$.duration_minutes: missing, set to {reading.defaults['duration_minutes']} (--duration)"
            )
            return reading.defaults["duration_minutes"]
        if minutes is None:
            reading.problem(
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
        reading.note(f"$.estimated_completion_time: {estimate!r} -> duration_minutes {parsed}")
        return parsed
    if minutes is not None and parsed == value:
        reading.note(f"$.estimated_completion_time: dropped, it repeats duration_minutes ({estimate!r})")
    elif "estimated_completion_time" in reading.drop_fields:
        reading.note(
            f"$.estimated_completion_time: dropped {estimate!r} (--drop-field estimated_completion_time)"
        )
    elif minutes is None:
        reading.problem("$.estimated_completion_time", f"{shown(estimate)} cannot be read as minutes")
    else:
        reading.problem(
            "$.estimated_completion_time",
            f"{shown(estimate)} differs from duration_minutes {minutes!r} (allow dropping it with --drop-field estimated_completion_time)",
        )
    return value


def _id_list(reading: Reading, value: Any, key: str) -> list[str] | None:
    if is_empty(value):
        return None if value is None else []
    items = value if isinstance(value, list) else [value]
    if not isinstance(value, list):
        reading.note(f"{json_path(key)}: {value!r} -> [{value!r}]")
    out = []
    for i, item in enumerate(items):
        if isinstance(item, str) and LESSON_ID.match(item):
            if item not in out:
                out.append(item)
        else:
            reading.problem(json_path(key, i), f"{shown(item)} is not a lesson id")
    return out


def _tags(reading: Reading, value: Any) -> list[str] | None:
    if is_empty(value):
        return None if value is None else []
    if not isinstance(value, list):
        reading.problem("$.tags", f"{shown(value)} is not a list of keywords")
        return None
    out: list[str] = []
    for i, tag in enumerate(value):
        slug = re.sub(r"\s+", "-", tag.strip().lower()) if isinstance(tag, str) else None
        if slug is None or not SLUG.match(slug):
            reading.problem(
                json_path("tags", i),
                f"{shown(tag)} cannot be made a keyword (lowercase letters, digits, '_' or '-')",
            )
            continue
        if slug != tag:
            reading.note(f"{json_path('tags', i)}: {tag!r} -> {slug}")
        if slug in out:
            reading.note(f"{json_path('tags', i)}: {slug} repeats an earlier tag; dropped")
        else:
            out.append(slug)
    return out


def _objectives(reading: Reading, value: Any) -> list[str] | None:
    if is_empty(value):
        return None if value is None else []
    items = value if isinstance(value, list) else [value]
    out = []
    for i, item in enumerate(items):
        if is_empty(item):
            reading.note(f"{json_path('learning_objectives', i)}: dropped (empty)")
            continue
        text = reading.line(item, json_path("learning_objectives", i))
        if text is not None:
            out.append(text)
    return out
