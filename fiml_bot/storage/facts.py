"""What reports over all learners read: plain records, shared by the SQL and the in-memory store.

No SQLAlchemy here, so the in-memory store stays free of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from fiml_bot.tutor.model import Learner


@dataclass(frozen=True)
class ProgressFact:
    """A learner's progress on one lesson, as a report over all learners needs it."""

    learner_id: str
    lesson_id: str
    status: str
    pinned_version: str
    completed_version: str | None
    seen_version: str | None


class Snapshot(Protocol):
    """A read-only, consistent view of the progress store."""

    def progress_on(self, lesson_ids: Iterable[str], learner_prefix: str = "") -> Iterator[ProgressFact]:
        """Progress of active learners (ids starting with `learner_prefix`) on these lessons, by learner, then lesson."""
        ...

    def streaks(self, learner_prefix: str = "") -> Iterator[Learner]:
        """Active learners with a streak (ids starting with `learner_prefix`): whom a reminder may keep.

        Partial records: the streak's fields only (no name, creation time or revision), read fast."""
        ...
