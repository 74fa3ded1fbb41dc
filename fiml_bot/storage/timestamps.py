"""The store's one rule for time: aware datetimes, kept and returned in UTC."""

from __future__ import annotations

import datetime as dt


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime) -> dt.datetime:
    """An aware datetime converted to UTC; a naive one is refused (its zone would be a guess)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"naive datetime {value.isoformat()} given to the progress store: use an aware one (UTC)"
        )
    return value.astimezone(dt.UTC)
