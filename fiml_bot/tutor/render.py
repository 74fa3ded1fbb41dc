"""What an adapter with a data provider fetches for a live section (the message itself: fiml_cms/message.py)."""

from __future__ import annotations

from fiml_cms.asof import find_as_of
from fiml_cms.lesson import (
    ChartSection,
    Lesson,
    LiveExampleSection,
    Section,
)

from .messages import LiveData


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
