"""The text of a section or a question as the tutor sends it (Markdown subset, see messages.py)."""

from __future__ import annotations

from fiml_cms.lesson import (
    ChartSection,
    KeyPointsSection,
    LiveExampleSection,
    MultipleChoiceQuestion,
    NumericQuestion,
    Question,
    Section,
    TextSection,
)


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


def question(item: Question) -> str:
    parts = [item.prompt.strip()]
    if isinstance(item, MultipleChoiceQuestion):
        parts.append("\n".join(f"{i + 1}. {o}" for i, o in enumerate(item.options)))
    elif isinstance(item, NumericQuestion) and item.unit:
        parts.append(f"(answer in {item.unit})")
    return "\n\n".join(parts)
