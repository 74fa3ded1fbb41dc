"""Lessons and learning paths as frozen values, built from schema-valid plain data.

Build these only from documents the schema accepted: the constructors trust the shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_PASS_RATIO = 0.6
DEFAULT_QUESTION_XP = 10


@dataclass(frozen=True)
class ChangelogEntry:
    version: str
    date: str
    changes: tuple[str, ...]


@dataclass(frozen=True)
class TextSection:
    id: str
    title: str | None
    body: str
    type: str = "text"


@dataclass(frozen=True)
class KeyPointsSection:
    id: str
    title: str | None
    points: tuple[str, ...]
    type: str = "key_points"


@dataclass(frozen=True)
class LiveExampleSection:
    """Market data from a provider, or `fallback` text when none is reachable."""

    id: str
    title: str | None
    body: str | None
    symbol: str
    metrics: tuple[str, ...]
    fallback: str
    type: str = "live_example"


@dataclass(frozen=True)
class ChartSection:
    id: str
    title: str | None
    caption: str | None
    symbol: str
    period: str
    kind: str
    fallback: str
    type: str = "chart"


Section = TextSection | KeyPointsSection | LiveExampleSection | ChartSection


@dataclass(frozen=True)
class MultipleChoiceQuestion:
    id: str
    prompt: str
    options: tuple[str, ...]
    answer: int
    explanation: str
    xp: int = DEFAULT_QUESTION_XP
    type: str = "multiple_choice"


@dataclass(frozen=True)
class TrueFalseQuestion:
    id: str
    prompt: str
    answer: bool
    explanation: str
    xp: int = DEFAULT_QUESTION_XP
    type: str = "true_false"


@dataclass(frozen=True)
class NumericQuestion:
    id: str
    prompt: str
    answer: float
    tolerance: float
    unit: str | None
    explanation: str
    xp: int = DEFAULT_QUESTION_XP
    type: str = "numeric"


Question = MultipleChoiceQuestion | TrueFalseQuestion | NumericQuestion


@dataclass(frozen=True)
class Quiz:
    pass_ratio: float
    questions: tuple[Question, ...]


@dataclass(frozen=True)
class Lesson:
    id: str
    version: str
    format: int
    title: str
    category: str
    difficulty: str
    duration_minutes: int
    xp_reward: int
    prerequisites: tuple[str, ...]
    replaces: tuple[str, ...]
    retired: bool
    yanked: tuple[str, ...]
    tags: tuple[str, ...]
    learning_objectives: tuple[str, ...]
    changelog: tuple[ChangelogEntry, ...]
    sections: tuple[Section, ...]
    quiz: Quiz

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Lesson:
        return cls(
            id=d["id"],
            version=d["version"],
            format=d["format"],
            title=d["title"],
            category=d["category"],
            difficulty=d["difficulty"],
            duration_minutes=d["duration_minutes"],
            xp_reward=d["xp_reward"],
            prerequisites=tuple(d.get("prerequisites", ())),
            replaces=tuple(d.get("replaces", ())),
            retired=d.get("retired", False),
            yanked=tuple(d.get("yanked", ())),
            tags=tuple(d.get("tags", ())),
            learning_objectives=tuple(d.get("learning_objectives", ())),
            changelog=tuple(
                ChangelogEntry(c["version"], c["date"], tuple(c["changes"])) for c in d["changelog"]
            ),
            sections=tuple(section_from_dict(s) for s in d["sections"]),
            quiz=Quiz(
                pass_ratio=d["quiz"].get("pass_ratio", DEFAULT_PASS_RATIO),
                questions=tuple(question_from_dict(q) for q in d["quiz"]["questions"]),
            ),
        )


def section_from_dict(s: dict[str, Any]) -> Section:
    kind, title = s["type"], s.get("title")
    if kind == "text":
        return TextSection(s["id"], title, s["body"])
    if kind == "key_points":
        return KeyPointsSection(s["id"], title, tuple(s["points"]))
    data = s["data"]
    if kind == "live_example":
        return LiveExampleSection(
            s["id"], title, s.get("body"), data["symbol"], tuple(data["metrics"]), s["fallback"]
        )
    return ChartSection(
        s["id"], title, s.get("caption"), data["symbol"], data["period"], data["kind"], s["fallback"]
    )


def question_from_dict(q: dict[str, Any]) -> Question:
    xp = q.get("xp", DEFAULT_QUESTION_XP)
    if q["type"] == "multiple_choice":
        return MultipleChoiceQuestion(
            q["id"], q["prompt"], tuple(q["options"]), q["answer"], q["explanation"], xp
        )
    if q["type"] == "true_false":
        return TrueFalseQuestion(q["id"], q["prompt"], q["answer"], q["explanation"], xp)
    return NumericQuestion(
        q["id"], q["prompt"], q["answer"], q.get("tolerance", 0), q.get("unit"), q["explanation"], xp
    )


@dataclass(frozen=True)
class LearningPath:
    id: str
    title: str
    description: str
    lessons: tuple[str, ...]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LearningPath:
        return cls(d["id"], d["title"], d["description"], tuple(d["lessons"]))
