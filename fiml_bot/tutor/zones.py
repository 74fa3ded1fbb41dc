"""Time-zone names as learners type them: `europe/berlin` is Europe/Berlin; `Berln` gets a did-you-mean.

The IANA list is read once per process, on first use (the tzdata files are scanned), never at import.
"""

from __future__ import annotations

import difflib
import functools
import zoneinfo

from .gamification import valid_time_zone


@functools.cache
def _by_folded_name() -> dict[str, str]:
    """Every zone a learner may live in, keyed by its case-folded name."""
    return {name.casefold(): name for name in zoneinfo.available_timezones() if valid_time_zone(name)}


def _folded(typed: str) -> str:
    return "_".join(typed.strip().split()).casefold()


def canonical_zone(typed: str) -> str | None:
    """The IANA name `typed` spells, ignoring case (and spaces for underscores); None if none."""
    if valid_time_zone(typed.strip()):
        return typed.strip()
    return _by_folded_name().get(_folded(typed))


def close_zones(typed: str, limit: int = 3) -> list[str]:
    """Zones a mistyped name may have meant: same city first, then the closest spellings."""
    names = _by_folded_name()
    wanted = _folded(typed)
    if not wanted:
        return []
    city = wanted.rsplit("/", 1)[-1]
    same_city = sorted(n for f, n in names.items() if f.rsplit("/", 1)[-1] == city)
    close = [names[f] for f in difflib.get_close_matches(wanted, list(names), n=limit, cutoff=0.75)]
    cities = {f.rsplit("/", 1)[-1]: f for f in names if "/" in f}
    close += [names[cities[c]] for c in difflib.get_close_matches(city, list(cities), n=limit, cutoff=0.8)]
    return list(dict.fromkeys(same_city + close))[:limit]
