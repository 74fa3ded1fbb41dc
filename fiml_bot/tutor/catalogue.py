"""The catalogue: what the lesson list and button lookups need about every lesson, built once per refresh.

A learner action touches only the lessons it names; everything that would otherwise be worked out over
all lessons on each action (renames from `replaces`, the order of the list, the retired lessons, the
short keys of buttons) is computed here, once per content refresh, and the finished value is swapped
in whole. Pure: built from `LessonSummary` values and the learning paths, no I/O.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from fiml_cms.lesson import LearningPath

from .callbacks import short_key

MORE_LESSONS = "More lessons"


@dataclass(frozen=True)
class LessonSummary:
    """The newest published version of a lesson, as far as the list needs it (no sections, no quiz)."""

    id: str
    version: str
    title: str
    duration_minutes: int
    prerequisites: tuple[str, ...] = ()
    replaces: tuple[str, ...] = ()
    retired: bool = False
    yanked: tuple[str, ...] = ()


@dataclass(frozen=True)
class Catalogue:
    """Every lesson's summary, renames resolved, and the list order; immutable, replaced on refresh."""

    summaries: Mapping[str, LessonSummary]  # every published id, replaced ones too
    aliases: Mapping[str, str]  # a former id -> the id it has now (chains of renames followed)
    listing: tuple[tuple[str, str], ...]  # (heading, id) of every current lesson, in list order
    paths: tuple[LearningPath, ...]
    _shown: tuple[int, ...] = field(repr=False, default=())  # positions in `listing` of lessons not retired
    _position: Mapping[str, int] = field(repr=False, default_factory=dict)
    _short_keys: dict[str, str] = field(
        repr=False, default_factory=dict
    )  # filled on the first short key asked

    @classmethod
    def build(cls, summaries: Iterable[LessonSummary], paths: Iterable[LearningPath] = ()) -> Catalogue:
        by_id = {s.id: s for s in summaries}
        direct = {old: s.id for s in by_id.values() for old in s.replaces}
        aliases = {old: _follow(direct, old) for old in direct}
        current = sorted(i for i in by_id if i not in aliases)
        known = set(current)
        listing: list[tuple[str, str]] = []
        seen: set[str] = set()
        paths = tuple(paths)
        for path in paths:
            for lesson_id in path.lessons:
                now = aliases.get(lesson_id, lesson_id)
                if now in known and now not in seen:
                    seen.add(now)
                    listing.append((path.title, now))
        listing.extend((MORE_LESSONS, i) for i in current if i not in seen)
        shown = tuple(n for n, (_, i) in enumerate(listing) if not by_id[i].retired)
        return cls(
            MappingProxyType(by_id),
            MappingProxyType(aliases),
            tuple(listing),
            paths,
            shown,
            MappingProxyType({i: n for n, (_, i) in enumerate(listing)}),
        )

    def current_id(self, lesson_id: str) -> str | None:
        """The id a lesson has now (following `replaces`), or None when no such lesson is published."""
        lesson_id = self.aliases.get(lesson_id, lesson_id)
        return lesson_id if lesson_id in self._position else None

    def lesson_ids(self) -> list[str]:
        """The current lessons (not the ids they replaced), sorted."""
        return sorted(self._position)

    def former_ids(self, lesson_id: str) -> list[str]:
        return [old for old, now in self.aliases.items() if now == lesson_id and old in self.summaries]

    def resolve_key(self, key: str) -> str | None:
        """A button's lesson key (an id or a short hash key) to a current lesson id."""
        if key in self._position:
            return key
        if not key.startswith("~"):
            return None
        if not self._short_keys:  # hashing every id costs a few ms: only when a long id's button is pressed
            self._short_keys.update((short_key(i), i) for i in self._position)
        return self._short_keys.get(key)

    def summary(self, lesson_id: str) -> LessonSummary | None:
        return self.summaries.get(lesson_id)

    def retired(self) -> set[str]:
        return {i for _, i in self.listing if self.summaries[i].retired}

    def page(
        self, number: int, size: int, also: Iterable[str] = ()
    ) -> tuple[list[tuple[str, LessonSummary]], int, int]:
        """One page of the list: lessons not retired, plus the retired ones in `also` (a learner's own).

        Returns (items, page number clamped to the pages there are, page count). Costs O(size + log n)
        plus the few extra lessons, however many lessons there are.
        """
        extra = sorted(
            self._position[i] for i in set(also) if i in self._position and self.summaries[i].retired
        )
        total = len(self._shown) + len(extra)
        pages = max(1, -(-total // size))
        number = min(max(number, 0), pages - 1)
        start = number * size
        items = [self.listing[p] for p in _merged_slice(self._shown, extra, start, start + size)]
        return [(heading, self.summaries[i]) for heading, i in items], number, pages


def _follow(direct: Mapping[str, str], lesson_id: str) -> str:
    seen = set()
    while lesson_id in direct and lesson_id not in seen:  # a chain of renames, never a loop
        seen.add(lesson_id)
        lesson_id = direct[lesson_id]
    return lesson_id


def _merged_slice(big: tuple[int, ...], small: list[int], start: int, stop: int) -> list[int]:
    """`sorted(big + small)[start:stop]` for a long sorted `big` and a short sorted `small`, without the merge."""
    out: list[int] = []
    before = 0  # how many of `small` come before the element at merged index `start`
    for value in small:
        if bisect_left(big, value) + before < start:
            before += 1
        else:
            break
    i, j = start - before, before
    while len(out) < stop - start and (i < len(big) or j < len(small)):
        if j < len(small) and (i >= len(big) or small[j] < big[i]):
            out.append(small[j])
            j += 1
        else:
            out.append(big[i])
            i += 1
    return out
