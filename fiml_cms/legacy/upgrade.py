"""The public entry: `upgrade_lesson` maps one lesson and says what it did (`Upgraded`)."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .fields import lesson
from .reading import Reading
from .vocabulary import FORMAT


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
    reading = Reading(
        frozenset(drop_fields), frozenset(t.strip().lower() for t in text_types), dict(defaults or {})
    )
    result = lesson(reading, data, first_seen or today)
    if reading.problems:
        return Upgraded(None, True, reading.notes, reading.problems)
    return Upgraded(result, True, reading.notes, [])
