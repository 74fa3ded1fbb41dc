"""The text of a section or a question as the tutor sends it (Markdown subset, see messages.py)."""

from __future__ import annotations

from fiml_cms.asof import find_as_of
from fiml_cms.lesson import (
    ChartSection,
    KeyPointsSection,
    Lesson,
    LiveExampleSection,
    MultipleChoiceQuestion,
    NumericQuestion,
    Question,
    Section,
    TextSection,
)

from .messages import LiveData


def section(item: Section) -> str:
    """A section's message; live data is not fetched here, so examples show their fallback."""
    parts = [f"**{item.title}**"] if item.title else []
    if isinstance(item, TextSection):
        parts.append(item.body.strip())
    elif isinstance(item, KeyPointsSection):
        parts.append("\n".join(f"• {p}" for p in item.points))
    elif isinstance(item, LiveExampleSection):
        if item.body:
            parts.append(item.body.strip())
        parts.append(f"📊 `{item.symbol}` ({', '.join(item.metrics)})\n\n{item.fallback.strip()}")
    elif isinstance(item, ChartSection):
        parts.append(f"📈 `{item.symbol}` · {item.period} · {item.kind} chart\n\n{item.fallback.strip()}")
        if item.caption:
            parts.append(f"*{item.caption.strip()}*")
    return "\n\n".join(parts)


def live_data(item: Section, lesson: Lesson, header: str) -> LiveData | None:
    """What an adapter with a data provider fetches for a live section; None for other sections."""
    if not isinstance(item, LiveExampleSection | ChartSection):
        return None
    head = [header] + ([f"**{item.title}**"] if item.title else [])
    stated = find_as_of(item.fallback)
    as_of = stated.isoformat() if stated else (str(lesson.changelog[0].date) if lesson.changelog else None)
    if isinstance(item, LiveExampleSection):
        if item.body:
            head.append(item.body.strip())
        return LiveData(
            "quote", item.symbol, "\n\n".join(head), item.fallback.strip(), as_of, metrics=item.metrics
        )
    return LiveData(
        "chart",
        item.symbol,
        "\n\n".join(head),
        item.fallback.strip(),
        as_of,
        period=item.period,
        chart_kind=item.kind,
        caption=(item.caption or "").strip(),
    )


def question(item: Question) -> str:
    parts = [item.prompt.strip()]
    if isinstance(item, MultipleChoiceQuestion):
        parts.append("\n".join(f"{i + 1}. {o}" for i, o in enumerate(item.options)))
    elif isinstance(item, NumericQuestion) and item.unit:
        parts.append(f"(answer in {item.unit})")
    return "\n\n".join(parts)
