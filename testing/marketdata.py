"""Shared by tests and the bench: a lesson with a live_example and a chart, and a tutor serving it."""

from __future__ import annotations

from pathlib import Path

LIVE_SECTION = """  - id: live_spread
    type: live_example
    title: Today's spread
    body: |
      Here is the quote for Apple right now. Compare the bid and the ask.
    data: {symbol: AAPL, metrics: [price, bid, ask, change_percent]}
    fallback: |
      As of 2026-11-20, AAPL traded at $228.50, with a bid of $228.49 and an ask of $228.51.
"""
LESSON = "what_is_a_market"


def add_live_section(root: Path) -> Path:
    """Insert LIVE_SECTION before the chart section of `what_is_a_market` (a preview repository)."""
    path = root / "content" / "lessons" / f"{LESSON}.yaml"
    text = path.read_text(encoding="utf-8")
    marker = "  - id: price_discovery\n"
    assert marker in text
    path.write_text(text.replace(marker, LIVE_SECTION + marker, 1), encoding="utf-8")
    return path
