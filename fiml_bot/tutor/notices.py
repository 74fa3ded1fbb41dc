"""Messages the bot starts, delivered at the learner's next action when no sender pushed them first.

A notice is scheduled in the database (`ProgressRepository.schedule`) and marked sent by the
transaction that shows it, so it is shown exactly once whichever replica serves the learner.
"""

from __future__ import annotations

from .messages import Message
from .turn import Turn

IN_CHAT = frozenset({"rescore"})  # a reminder is pointless to someone who is here already


def deliver_due(turn: Turn) -> None:
    """Due notices go above this action's reply, marked sent in the same transaction."""
    for notice in turn.repo.due_notices(turn.learner_id, turn.now):
        if notice.kind in IN_CHAT and turn.repo.mark_sent(turn.learner_id, notice.key, turn.now):
            turn.notes.append(Message(notice.text))
