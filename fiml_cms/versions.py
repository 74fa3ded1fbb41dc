"""This project's version rules on top of the `semver` library: parsing and ordering."""

from __future__ import annotations

from functools import lru_cache

import semver


@lru_cache(maxsize=4096)
def parse(text: str) -> semver.Version:
    """Parse a full semantic version; raises ValueError for anything else."""
    return semver.Version.parse(text)


def is_valid(text: str) -> bool:
    try:
        parse(text)
    except (ValueError, TypeError):
        return False
    return True


def sort_key(text: str) -> semver.Version:
    """Order versions by semver precedence (1.10.0 after 1.9.0), never lexically."""
    return parse(text)
