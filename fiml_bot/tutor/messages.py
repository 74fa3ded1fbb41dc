"""What the tutor says: platform-neutral messages with buttons.

Text uses a small Markdown subset (**bold**, *italic*, `code`, paragraphs separated by blank
lines); each adapter renders it safely for its platform (Telegram HTML with escaping, the terminal).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Button:
    label: str
    data: str  # callback data, at most 64 bytes (see callbacks.py)


@dataclass(frozen=True)
class LiveData:
    """A live_example or chart section's query: the adapter fetches it after the transaction and shows
    `head` + the data (or `fallback` with its "as of" line); the message's own text is the fallback form."""

    kind: str  # "quote" (live_example) or "chart"
    symbol: str
    head: str  # the message text above the data (lesson header, section title and body)
    fallback: str
    as_of: str | None  # the fallback's date: its own "as of", else the lesson version's changelog date
    metrics: tuple[str, ...] = ()
    period: str = ""
    chart_kind: str = ""
    caption: str = ""


@dataclass(frozen=True)
class Message:
    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()  # rows of buttons
    replace: bool = False  # may replace the message whose button was pressed (navigation)
    live: LiveData | None = None  # market data to fetch and show (adapters without a provider ignore it)

    @property
    def all_buttons(self) -> list[Button]:
        return [b for row in self.buttons for b in row]


def rows(buttons: list[Button], per_row: int = 1) -> tuple[tuple[Button, ...], ...]:
    return tuple(tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row))
