"""What an adapter with a data provider fetches for a live section (the message itself: fiml_cms/message.py)."""

from __future__ import annotations

from fiml_cms import message
from fiml_cms.lesson import (
    ChartSection,
    Lesson,
    LiveExampleSection,
    Section,
)

from .messages import LiveData


def live_data(item: Section, lesson: Lesson, number: int) -> LiveData | None:
    """What an adapter with a data provider fetches for section `number`; None for other sections."""
    if not isinstance(item, LiveExampleSection | ChartSection):
        return None
    head = message.live_head(lesson.title, number, len(lesson.sections), item)
    as_of = message.figures_date(item, lesson.changelog)
    if isinstance(item, LiveExampleSection):
        return LiveData("quote", item.symbol, head, item.fallback.strip(), as_of, metrics=item.metrics)
    return LiveData(
        "chart",
        item.symbol,
        head,
        item.fallback.strip(),
        as_of,
        period=item.period,
        chart_kind=item.kind,
        caption=(item.caption or "").strip(),
    )
