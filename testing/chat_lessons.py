"""Lessons built in memory for chat tests: valid lesson data, an in-memory content port, and
hypothesis strategies for lessons whose messages sit at Telegram's length limit.

The content port serves `Lesson` values directly (no git repository per example), so a property
test can drive the real tutor and python-telegram-bot through many generated lessons.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml
from hypothesis import strategies as st

from fiml_bot.tutor.catalogue import Catalogue, LessonSummary
from fiml_cms import document, message
from fiml_cms.findings import Finding
from fiml_cms.lesson import ChangelogEntry, LearningPath, Lesson

VERSION = "1.0.0"


def lesson_data(
    lesson_id: str,
    title: str,
    sections: list[dict[str, Any]],
    questions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A complete lesson in the current format around the given sections and questions."""
    return {
        "id": lesson_id,
        "version": VERSION,
        "format": 1,
        "title": title,
        "category": "basics",
        "difficulty": "beginner",
        "duration_minutes": 5,
        "xp_reward": 50,
        "prerequisites": [],
        "tags": ["test"],
        "learning_objectives": ["Read a long message."],
        "changelog": [{"version": VERSION, "date": "2026-11-26", "changes": ["Initial release"]}],
        "sections": sections,
        "quiz": {
            "questions": questions
            or [
                {
                    "id": "q1",
                    "type": "true_false",
                    "prompt": "A message is one message.",
                    "answer": True,
                    "explanation": "One section, one message.",
                }
            ]
        },
    }


def check(data: dict[str, Any]) -> tuple[Lesson | None, list[Finding]]:
    """Validate `data` as `fiml-cms validate` does for one file named after its id."""
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode()
    checked = document.check_text(text, f"{data['id']}.yaml", stem=data["id"])
    return checked.lesson, checked.findings


class MemoryContent:
    """The tutor's `Content` port over lesson values, each published once at `VERSION`."""

    def __init__(self, lessons: Iterable[Lesson]) -> None:
        self.lessons = {lesson.id: lesson for lesson in lessons}
        self._catalogue = Catalogue.build(
            LessonSummary(
                lesson.id,
                lesson.version,
                lesson.title,
                lesson.duration_minutes,
                lesson.prerequisites,
                lesson.replaces,
                lesson.retired,
                lesson.yanked,
            )
            for lesson in self.lessons.values()
        )

    def latest(self, lesson_id: str) -> Lesson:
        return self.lessons[lesson_id]

    def get(self, lesson_id: str, version: str) -> Lesson:
        return self.lessons[lesson_id]

    def versions(self, lesson_id: str) -> list[str]:
        return [self.lessons[lesson_id].version] if lesson_id in self.lessons else []

    def is_yanked(self, lesson_id: str, version: str) -> bool:
        return False

    def current_id(self, lesson_id: str) -> str | None:
        return self._catalogue.current_id(lesson_id)

    def lesson_ids(self) -> list[str]:
        return self._catalogue.lesson_ids()

    def paths(self) -> list[LearningPath]:
        return []

    def changelog_since(self, lesson_id: str, version: str) -> list[ChangelogEntry]:
        return []

    def catalogue(self) -> Catalogue:
        return self._catalogue

    def newest_version(self, lesson_id: str) -> str | None:
        lesson = self.lessons.get(lesson_id)
        return lesson.version if lesson else None

    def refresh(self) -> None:
        return None


# What a paragraph is made of: plain words, emoji outside the BMP (2 UTF-16 units each), accented
# and CJK letters, characters HTML escapes, and the Markdown markers (not counted once parsed).
_PIECES = st.sampled_from(
    [
        "word ",
        "price ",
        "📈 ",
        "💰💰 ",
        "élan ",
        "市場 ",
        "a < b & c > d ",
        "**bold** ",
        "*italic* ",
        "`code` ",
        "snake_case ",
        "\n\n",
    ]
)
_TITLE = st.text(st.sampled_from("Ab cd📈é市&<*"), min_size=1, max_size=40).map(lambda t: t.strip() or "T")


@st.composite
def near_limit_text(draw: st.DrawFn, limit: int = message.LIMIT, max_chars: int = 4096) -> str:
    """Text whose message lands around `limit` UTF-16 units: some just under it, some just over."""
    pieces = draw(st.lists(_PIECES, min_size=1, max_size=6))
    target = draw(st.integers(limit - 250, limit + 60))
    out = ""
    i = 0
    while message.utf16_length(out) < target and len(out) < max_chars - 12:
        out += pieces[i % len(pieces)]
        i += 1
    return out.strip() or "word"


@st.composite
def _section(draw: st.DrawFn, n: int) -> dict[str, Any]:
    body = draw(near_limit_text())
    kind = draw(st.sampled_from(["text", "key_points", "live_example", "chart"]))
    if kind == "text":
        return {"id": f"s{n}", "type": "text", "title": draw(_TITLE), "body": body}
    if kind == "key_points":
        cut = max(1, len(body) // 8)
        points = [p.strip() or "point" for p in (body[i : i + cut] for i in range(0, len(body), cut))]
        return {"id": f"s{n}", "type": "key_points", "points": [p[:400] for p in points][:12]}
    fallback = f"Illustrative figures as of 2026-11-26: $415.20. {body[: len(body) // 2]}"
    if kind == "live_example":
        return {
            "id": f"s{n}",
            "type": "live_example",
            "title": draw(_TITLE),
            "body": body[len(body) // 2 :].strip() or "A quote.",
            "data": {"symbol": "MSFT", "metrics": ["price", "bid"]},
            "fallback": fallback,
        }
    return {
        "id": f"s{n}",
        "type": "chart",
        "title": draw(_TITLE),
        "data": {"symbol": "VT", "period": "5y", "kind": "line"},
        "caption": body[len(body) // 2 :][:1024].strip() or "A line.",
        "fallback": fallback,
    }


@st.composite
def _question(draw: st.DrawFn, n: int) -> dict[str, Any]:
    prompt = draw(near_limit_text(limit=1000, max_chars=1000))[:1000]
    common = {
        "id": f"q{n}",
        "prompt": prompt,
        "explanation": draw(near_limit_text(limit=1000, max_chars=1000))[:1000],
    }
    kind = draw(st.sampled_from(["multiple_choice", "true_false", "numeric"]))
    if kind == "multiple_choice":
        options = [f"Option {k} 📈" for k in range(draw(st.integers(2, 4)))]
        return {**common, "type": kind, "options": options, "answer": 0}
    if kind == "true_false":
        return {**common, "type": kind, "answer": True}
    return {**common, "type": kind, "answer": 12.5, "unit": "%"}


@st.composite
def long_lessons(draw: st.DrawFn) -> dict[str, Any]:
    """A lesson of 1-2 sections of any type and 1-2 questions of any type, with long messages."""
    sections = [draw(_section(n)) for n in range(draw(st.integers(1, 2)))]
    questions = [draw(_question(n)) for n in range(draw(st.integers(1, 2)))]
    return lesson_data("long_lesson", draw(_TITLE), sections, questions)
