"""`fiml-bot db current` as a service: where a database's schema stands against this code.

The command line only renders the result (text, or `--json` in the envelope); the decision lives here.
"""

from __future__ import annotations

from dataclasses import dataclass

UP_TO_DATE = "up to date"
INSIDE_WINDOW = "inside the window"
UPGRADE = "upgrade"
NEWER = "newer than this code"


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None  # None: no schema yet
    head: str  # this code's newest revision
    window_min: str  # the oldest revision this code runs on
    state: str  # UP_TO_DATE | INSIDE_WINDOW | UPGRADE | NEWER

    @property
    def window(self) -> str:
        return self.head if self.window_min == self.head else f"{self.window_min}..{self.head}"

    def advice(self) -> str:
        """What an operator should do, in words."""
        if self.state == UP_TO_DATE:
            return "up to date"
        if self.state == INSIDE_WINDOW:
            return f"inside this code's window; `fiml-bot db upgrade` moves it to {self.head}"
        if self.state == UPGRADE:
            return "run `fiml-bot db upgrade`"
        return "newer than this code: see its schema window"

    def as_json(self) -> dict[str, object]:
        return {
            "current": self.current,
            "head": self.head,
            "window": {"from": self.window_min, "to": self.head},
            "state": self.state,
            "advice": self.advice(),
        }


def schema_status(url: str) -> SchemaStatus:
    """The database at `url` (its Alembic revision) against this code's head and window."""
    from ..storage import migrations_api, window

    current, head = migrations_api.current(url), migrations_api.head()
    code = window.code_window()
    known = migrations_api.known_revisions()
    if current == head:
        state = UP_TO_DATE
    elif current is not None and current in known and window.includes(current, code.min_schema):
        state = INSIDE_WINDOW
    elif current is None or current in known:
        state = UPGRADE
    else:
        state = NEWER
    return SchemaStatus(current, head, code.min_schema, state)
