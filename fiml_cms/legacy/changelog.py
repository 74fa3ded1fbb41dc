"""The changelog: legacy entries completed and put newest first, or one entry for the import."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from fiml_cms import versions

from .reading import Reading, is_empty, json_path, shown, version_of
from .vocabulary import DATE, IMPORTED


def changelog(reading: Reading, value: Any, version: str, first_date: str) -> list[dict[str, Any]]:
    if is_empty(value):
        reading.note(f"$.changelog: missing -> one entry for {version} dated {first_date} ({IMPORTED!r})")
        return [{"version": version, "date": first_date, "changes": [IMPORTED]}]
    if not isinstance(value, list):
        reading.problem("$.changelog", f"{shown(value)} is not a list of entries")
        return []
    entries = []
    for i, entry in enumerate(value):
        where = ("changelog", i)
        if not isinstance(entry, dict):
            reading.problem(json_path(*where), f"{shown(entry)} is not an entry (version, date, changes)")
            continue
        full, why = version_of(entry.get("version"))
        if full is None:
            reading.problem(json_path(*where, "version"), why or "not a version")
        elif why:
            reading.note(f"{json_path(*where, 'version')}: {why}")
        date = entry.get("date")
        if isinstance(date, dt.datetime):
            date = date.date().isoformat()
        elif isinstance(date, dt.date):
            date = date.isoformat()
        if not isinstance(date, str) or not DATE.match(date.strip()):
            reading.problem(json_path(*where, "date"), f"{shown(date)} is not a date (YYYY-MM-DD)")
        else:
            date = date.strip()
        changes = entry.get("changes")
        if isinstance(changes, str) and changes.strip():
            changes = [changes.strip()]
            reading.note(f"{json_path(*where, 'changes')}: one text -> a list of one change")
        if (
            not isinstance(changes, list)
            or not changes
            or not all(isinstance(c, str) and c.strip() for c in changes)
        ):
            reading.problem(
                json_path(*where, "changes"),
                f"{shown(changes)} is not a list of changes (one line of text each)",
            )
            changes = []
        reading.leftover(entry, ("version", "date", "changes"), *where)
        entries.append({"version": full, "date": date, "changes": [c.strip() for c in changes]})
    keys = [str(e["version"]) for e in entries if e["version"]]
    if len(keys) > 1 and all(_release(a) < _release(b) for a, b in itertools.pairwise(keys)):
        entries.reverse()
        reading.note("$.changelog: oldest-first -> newest first")
    if entries and entries[0]["version"] and entries[0]["version"] != version:
        reading.problem(
            "$.changelog",
            f"the newest entry is {entries[0]['version']} but the lesson's version is {version}: add an entry for {version} at the top (its date and changes are history only an author knows)",
        )
    return entries


def _release(version: str) -> tuple[int, int, int]:
    """MAJOR.MINOR.PATCH of a version `version_of` made (pre-release and build parts left out)."""
    parsed = versions.parse(version)
    return parsed.major, parsed.minor, parsed.patch
