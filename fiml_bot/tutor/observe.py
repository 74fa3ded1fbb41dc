"""What the tutor reports about an action, for metrics: outcomes, starts, completions, answers, XP.

The tutor stays free of I/O: an action collects `ActionEvents` while it runs and hands them to the
`Observer` only after its transaction committed, so a rolled-back or retried action reports nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from .model import XpAward
from .ports import ProgressRepository

OK = "ok"
USER_ERROR = "user_error"  # handled: the learner sent something the bot cannot act on
FAILED = "failed"  # the action did not happen (database down, a bug)


@dataclass
class ActionEvents:
    """What one learner action did, in the order it happened."""

    outcome: str = OK
    starts: list[tuple[str, str]] = field(default_factory=list)  # (lesson, version)
    completions: list[tuple[str, str]] = field(default_factory=list)
    abandons: list[tuple[str, str]] = field(
        default_factory=list
    )  # an unfinished attempt replaced by a new one
    answers: list[tuple[str, str, bool]] = field(default_factory=list)  # (lesson, version, correct)
    policy_actions: list[str] = field(default_factory=list)
    xp: int = 0


class Observer(Protocol):
    def action_done(self, events: ActionEvents) -> None:
        """A learner action committed (or failed: `events.outcome == FAILED`)."""
        ...

    def storage_error(self) -> None:
        """The database could not be reached or refused the transaction."""
        ...


class NoObserver:
    def action_done(self, events: ActionEvents) -> None:
        return None

    def storage_error(self) -> None:
        return None


class CountingRepository:
    """The progress repository, counting the XP it actually paid (an award already paid adds nothing)."""

    def __init__(self, inner: ProgressRepository, events: ActionEvents) -> None:
        self._inner = inner
        self._events = events

    def award_xp(self, award: XpAward) -> bool:
        paid = self._inner.award_xp(award)
        if paid:
            self._events.xp += award.amount
        return paid

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)
