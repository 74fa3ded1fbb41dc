"""Semantic comparison of two versions of a lesson (SPEC §4): each change and the bump it needs.

Compares parsed values, not text: reformatting YAML is no change at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from typing import Any

from .lesson import Lesson, MultipleChoiceQuestion, Question, Section
from .versions import Level

#: Lesson fields whose change is a patch (wording and metadata).
_PATCH_FIELDS = (
    "title",
    "category",
    "difficulty",
    "duration_minutes",
    "tags",
    "learning_objectives",
    "yanked",
)
#: Lesson fields whose change is minor (who may start it, what it pays, what it replaces).
_MINOR_FIELDS = ("xp_reward", "prerequisites", "replaces", "retired")
_SECTION_DATA = {"live_example": ("symbol", "metrics"), "chart": ("symbol", "period", "kind")}


@dataclass(frozen=True)
class Change:
    level: Level
    what: str


@dataclass(frozen=True)
class LessonDiff:
    changes: tuple[Change, ...]

    @property
    def required(self) -> Level:
        return max((c.level for c in self.changes), default=Level.NONE)


def diff_lessons(old: Lesson, new: Lesson) -> LessonDiff:
    return LessonDiff(tuple(_changes(old, new)))


def _changes(old: Lesson, new: Lesson) -> Iterator[Change]:
    renamed = old.id != new.id and old.id in new.replaces
    if renamed:
        yield Change(
            Level.NONE,
            f"renamed from {old.id} to {new.id} (listed in `replaces`: learners keep their place; not a new edition)",
        )
    elif old.id != new.id:
        yield Change(
            Level.MAJOR, f"id changed from {old.id} to {new.id} without listing {old.id} in `replaces`"
        )
    if old.format != new.format:
        yield Change(Level.MAJOR, f"lesson format changed from {old.format} to {new.format}")
    for name in _PATCH_FIELDS:
        if getattr(old, name) != getattr(new, name):
            yield Change(Level.PATCH, f"{name} changed")
    for name in _MINOR_FIELDS:
        if name == "replaces" and renamed and sorted({*old.replaces, old.id}) == sorted(new.replaces):
            continue  # the rename itself
        if getattr(old, name) != getattr(new, name):
            yield Change(Level.MINOR, f"{name} changed from {getattr(old, name)!r} to {getattr(new, name)!r}")
    yield from _item_changes("section", old.sections, new.sections, _same_type_section)
    if old.quiz.pass_ratio != new.quiz.pass_ratio:
        yield Change(
            Level.MINOR, f"quiz pass ratio changed from {old.quiz.pass_ratio} to {new.quiz.pass_ratio}"
        )
    yield from _item_changes("question", old.quiz.questions, new.quiz.questions, _same_type_question)


def _order_changes(kind: str, old_ids: list[str], new_ids: list[str]) -> Iterator[Change]:
    new_set, old_set = set(new_ids), set(old_ids)
    for removed in [i for i in old_ids if i not in new_set]:
        yield Change(Level.MAJOR, f"{kind} {removed} removed")
    for added in [i for i in new_ids if i not in old_set]:
        yield Change(Level.MINOR, f"{kind} {added} added")
    kept_old = [i for i in old_ids if i in new_set]
    kept_new = [i for i in new_ids if i in old_set]
    if kept_old != kept_new:
        yield Change(Level.MAJOR, f"{kind}s re-ordered")


def _item_changes(
    kind: str, old: tuple, new: tuple, same_type: Callable[[Any, Any], Iterator[Change]]
) -> Iterator[Change]:
    """Sections or questions: matched by id across versions, then compared one by one."""
    yield from _order_changes(kind, [i.id for i in old], [i.id for i in new])
    before = {i.id: i for i in old}
    for item in new:
        previous = before.get(item.id)
        if previous is None or previous == item:
            continue
        if previous.type != item.type:
            yield Change(Level.MAJOR, f"{kind} {item.id} changed type from {previous.type} to {item.type}")
        else:
            yield from same_type(previous, item)


def _same_type_section(previous: Section, section: Section) -> Iterator[Change]:
    data = _SECTION_DATA.get(section.type, ())
    if any(getattr(previous, f) != getattr(section, f) for f in data):
        yield Change(Level.MINOR, f"section {section.id}: example data query changed")
    if any(
        getattr(previous, f.name) != getattr(section, f.name)
        for f in fields(section)
        if f.name not in data and f.name != "fallback"
    ):
        yield Change(Level.PATCH, f"section {section.id}: wording changed")
    if getattr(previous, "fallback", None) != getattr(section, "fallback", None):
        yield Change(Level.MINOR, f"section {section.id}: example changed")


def _same_type_question(old: Question, new: Question) -> Iterator[Change]:
    qid = new.id
    if isinstance(old, MultipleChoiceQuestion) and isinstance(new, MultipleChoiceQuestion):
        if len(old.options) != len(new.options) or (
            old.options != new.options and sorted(old.options) == sorted(new.options)
        ):
            yield Change(Level.MAJOR, f"question {qid}: option set changed")
        elif old.options != new.options:
            yield Change(Level.MINOR, f"question {qid}: option wording changed")
    if old.answer != new.answer or getattr(old, "tolerance", None) != getattr(new, "tolerance", None):
        yield Change(Level.MINOR, f"question {qid}: answer changed (learners re-scored)")
    if old.xp != new.xp:
        yield Change(Level.MINOR, f"question {qid}: xp changed from {old.xp} to {new.xp}")
    if old.prompt != new.prompt or getattr(old, "unit", None) != getattr(new, "unit", None):
        yield Change(Level.PATCH, f"question {qid}: wording changed")
    if old.explanation != new.explanation:
        yield Change(Level.PATCH, f"question {qid}: explanation changed")
