"""The "as of" date an author states in a live section's fallback text ("as of 2024-11-24").

Fallback figures go stale: the bot shows them when no provider answers, and a learner must see how old
they are. Shared by the validation rule (FIML053) and the bot, which repeats the date under a fallback.
"""

from __future__ import annotations

import datetime as dt
import re

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<month>[A-Za-z]{3,9})\.?"
# "as of 2024-11-24", "as of 24 November 2024", "as of November 24, 2024", "as of November 2024".
_PATTERNS = (
    re.compile(r"\bas of (?P<year>\d{4})-(?P<m>\d{2})-(?P<day>\d{2})\b", re.I),
    re.compile(rf"\bas of (?P<day>\d{{1,2}}) {_MONTH},? (?P<year>\d{{4}})\b", re.I),
    re.compile(rf"\bas of {_MONTH} (?P<day>\d{{1,2}}),? (?P<year>\d{{4}})\b", re.I),
    re.compile(rf"\bas of {_MONTH},? (?P<year>\d{{4}})\b", re.I),
)


def find_as_of(text: str) -> dt.date | None:
    """The first "as of <date>" in `text` (a month alone counts as its first day); None when there is none."""
    found: list[tuple[int, dt.date]] = []
    for pattern in _PATTERNS:
        for match in pattern.finditer(text):
            date = _date(match)
            if date is not None:
                found.append((match.start(), date))
    return min(found)[1] if found else None


def _date(match: re.Match[str]) -> dt.date | None:
    parts = match.groupdict()
    month = int(parts["m"]) if parts.get("m") else _MONTHS.get((parts.get("month") or "").lower())
    if month is None:
        return None
    try:
        return dt.date(int(parts["year"]), month, int(parts.get("day") or 1))
    except ValueError:
        return None
