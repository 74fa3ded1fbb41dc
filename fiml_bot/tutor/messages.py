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
class Message:
    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()  # rows of buttons
    replace: bool = False  # may replace the message whose button was pressed (navigation)

    @property
    def all_buttons(self) -> list[Button]:
        return [b for row in self.buttons for b in row]


def rows(buttons: list[Button], per_row: int = 1) -> tuple[tuple[Button, ...], ...]:
    return tuple(tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row))
