"""This project's version rules on top of the `semver` library: parsing, ordering, bump levels."""

from __future__ import annotations

import enum
import re
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import semver

#: A short legacy version (`1`, `1.2`, `1.2.3`), optionally written with a `v` in front.
_LEGACY = re.compile(r"^(v?)(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*))?(?:\.(0|[1-9][0-9]*))?$")


class Level(enum.IntEnum):
    """How much a change requires the version to rise; ordered, so max() works."""

    NONE = 0
    PATCH = 1
    MINOR = 2
    MAJOR = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Level:
        try:
            return cls[text.upper()]
        except KeyError:
            raise ValueError(f"unknown level {text!r}: use major, minor or patch") from None


@lru_cache(maxsize=4096)
def parse(text: str) -> semver.Version:
    """Parse a full semantic version; raises ValueError for anything else.

    `semver` is imported here, not at the top: `fiml-cms validate FILE` runs on every commit and
    most runs never compare a version (its import, with its argparse-based CLI, costs ~6 ms)."""
    import semver

    return semver.Version.parse(text)


def is_valid(text: str) -> bool:
    try:
        parse(text)
    except (ValueError, TypeError):
        return False
    return True


@lru_cache(maxsize=65536)
def sort_key(text: str) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
    """Order versions by semver precedence (1.10.0 after 1.9.0, 1.0.0-rc.1 before 1.0.0), never lexically.

    A plain tuple, so sorting thousands of tags compares tuples instead of `semver.Version` objects.
    """
    version = parse(text)
    if version.prerelease is None:
        return (version.major, version.minor, version.patch, 1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in version.prerelease.split("."))
    return (version.major, version.minor, version.patch, 0, parts)


def normalize_legacy(value: object, *, v_prefix: bool = False) -> str | None:
    """`"1.0"`, `2`, `1.0` (a YAML float) -> `"1.0.0"`, `"2.0.0"`; full semver as is; else None.

    With `v_prefix`, `"v1.2"` reads as `"1.2.0"` too: `fiml-cms upgrade` accepts what authors wrote,
    while the tags made from history keep to versions a file could be published under.
    """
    if isinstance(value, bool) or value is None:
        return None
    text = str(value).strip()
    if is_valid(text):
        return text
    match = _LEGACY.match(text)
    if not match or (match.group(1) and not v_prefix):
        return None
    major, minor, patch = (int(g) if g else 0 for g in match.groups()[1:])
    return f"{major}.{minor}.{patch}"


def bump(version: str, level: Level) -> str:
    """The next version at `level` (pre-release and build parts are dropped)."""
    current = parse(version)
    if level is Level.MAJOR:
        return str(current.bump_major())
    if level is Level.MINOR:
        return str(current.bump_minor())
    if level is Level.PATCH:
        if current.prerelease:
            return str(current.finalize_version())
        return str(current.bump_patch())
    raise ValueError("a NONE bump does not change the version")


def level_between(old: str, new: str) -> Level:
    """The level by which `new` is above `old` (NONE when equal or lower)."""
    a, b = parse(old), parse(new)
    if b <= a:
        return Level.NONE
    if b.major != a.major:
        return Level.MAJOR
    if b.minor != a.minor:
        return Level.MINOR
    return Level.PATCH
