"""`/settings`: the learner decides which messages the bot may start (each kind on or off).

Only messages the bot starts on its own are covered; replies to the learner's own actions always
come. A learner who blocks the bot gets none of them either way (`Tutor.deactivate`).
"""

from __future__ import annotations

from dataclasses import replace

from .callbacks import ToggleMessages, encode
from .messages import Button, Message, rows
from .model import MESSAGE_KINDS, MessageSettings
from .screens import HOME
from .turn import Turn

LABELS = {
    "reminders": "Streak reminders",
    "reviews": "Reviews of questions I missed",
    "announcements": "Announcements of new features",
    "update_notices": "Notices of lesson updates",
}


def settings_screen(turn: Turn, *, changed: bool = False) -> list[Message]:
    current = turn.repo.message_settings(turn.learner_id)
    return [_screen(current, changed)]


def toggle(turn: Turn, kind: str) -> list[Message]:
    """Flip one kind (an unknown or empty kind just shows the settings)."""
    current = turn.repo.message_settings(turn.learner_id)
    if kind not in MESSAGE_KINDS:
        return [_screen(current, False)]
    updated = replace(current, **{kind: not current.allows(kind)})
    turn.repo.save_message_settings(turn.learner_id, updated, turn.now)
    return [_screen(updated, True)]


def _screen(current: MessageSettings, changed: bool) -> Message:
    lines = ["**Messages I may send you on my own**", ""]
    lines += [
        f"{'✅' if current.allows(k) else '🔕'} {LABELS[k]}: {'on' if current.allows(k) else 'off'}"
        for k in MESSAGE_KINDS
    ]
    lines += ["", "Tap one to turn it on or off. Replies to what you do always come."]
    buttons = [
        Button(
            f"{'🔕 Turn off' if current.allows(k) else '✅ Turn on'}: {LABELS[k].lower()}"[:60],
            encode(ToggleMessages(k)),
        )
        for k in MESSAGE_KINDS
    ]
    return Message("\n".join(lines), (*rows(buttons), *HOME), replace=changed)
