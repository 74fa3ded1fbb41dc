"""The visible text of each chat message a lesson produces.

Telegram's 4,096-character limit applies to the text after entity parsing, so lengths are
measured on the plain text a learner sees: Markdown markers are not counted.
"""

from __future__ import annotations

import re

from .lesson import (
    ChartSection,
    KeyPointsSection,
    LiveExampleSection,
    MultipleChoiceQuestion,
    NumericQuestion,
    Question,
    Section,
    TextSection,
)

TELEGRAM_MESSAGE_LIMIT = 4096
_MARKERS = re.compile(r"\*\*|__|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w)|`")


def visible(markdown: str) -> str:
    """Strip the inline Markdown markers the bot turns into formatting."""
    return _MARKERS.sub("", markdown).strip()


def section_text(section: Section) -> str:
    """The longest message this section can produce (fallbacks included)."""
    parts: list[str] = [section.title] if section.title else []
    if isinstance(section, TextSection):
        parts.append(visible(section.body))
    elif isinstance(section, KeyPointsSection):
        parts.extend(f"• {visible(p)}" for p in section.points)
    elif isinstance(section, LiveExampleSection):
        if section.body:
            parts.append(visible(section.body))
        parts.append(visible(section.fallback))
    elif isinstance(section, ChartSection):
        parts.append(visible(section.fallback))
        if section.caption:
            parts.append(visible(section.caption))
    return "\n\n".join(parts)


def raw_size(section: Section) -> int:
    """An upper bound of `len(section_text(section))`, computed without rendering."""
    texts = [section.title or ""]
    if isinstance(section, TextSection):
        texts.append(section.body)
    elif isinstance(section, KeyPointsSection):
        texts.extend(section.points)
        return sum(len(t) for t in texts) + 4 * (len(texts) + 1)
    elif isinstance(section, LiveExampleSection):
        texts += [section.body or "", section.fallback]
    elif isinstance(section, ChartSection):
        texts += [section.fallback, section.caption or ""]
    return sum(len(t) for t in texts) + 2 * len(texts)


def question_text(question: Question) -> str:
    """The question message; options are buttons, but a numbered copy is shown too."""
    parts = [visible(question.prompt)]
    if isinstance(question, MultipleChoiceQuestion):
        parts.append("\n".join(f"{i + 1}. {o}" for i, o in enumerate(question.options)))
    elif isinstance(question, NumericQuestion) and question.unit:
        parts.append(f"(answer in {question.unit})")
    return "\n\n".join(parts)


def paragraphs(markdown: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", markdown) if p.strip()]
