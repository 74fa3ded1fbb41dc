"""Telling a learner about a database outage once per outage, not once per delivery.

During an outage Telegram redelivers each update (a webhook answered 500) and learners keep pressing
buttons; each attempt used to send "I can't reach my records..." again. The memory of who was told
cannot live in the database (it is the thing that is down), so it lives in this process: a set of
learners told since the outage began, emptied by the first action that succeeds again (the outage is
over). With several replicas each keeps its own set, so a learner hears it at most once per replica
per outage (polling runs one replica; see docs/decisions.md). The set is bounded: past `limit`
learners, further ones are not told (they still get a reply once the database is back).
"""

from __future__ import annotations

import threading


class OutageNotices:
    """Who has been told about the current outage, in this process."""

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._told: set[str] = set()
        self._lock = threading.Lock()

    def first_notice(self, learner_id: str) -> bool:
        """True once per learner per outage: the caller tells them then, and stays silent after."""
        with self._lock:
            if learner_id in self._told or len(self._told) >= self.limit:
                return False
            self._told.add(learner_id)
            return True

    def recovered(self) -> None:
        """The database answered again: the next outage is news to everyone."""
        if self._told:
            with self._lock:
                self._told.clear()
