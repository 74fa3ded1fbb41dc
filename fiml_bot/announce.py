"""Announcements: `fiml-bot announce TEXT [--flag FLAG]` tells Telegram learners about a new feature.

The seed's communication plan ("New features: announcement message with demo") as a command. Who:
every active `telegram:` learner who has not turned announcements off in `/settings`, and with
`--flag`, only those the flag is on for (evaluated with what the bot knows of them, as in the chat).
The message carries a button to try it (the lessons list, where a flagged feature shows).

Delivery is `notify.broadcast`: each announcement is recorded before it is sent (its key names the
text's digest and the learner), so a rerun of the same text resumes where a crash stopped and
messages nobody twice; it goes through the fleet's shared send budget at broadcast priority, and a
learner who blocked the bot is marked inactive.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from .notify import ProgressStore
from .tutor.callbacks import ListPage, encode
from .tutor.features import ContextSource, Features, learner_context
from .tutor.messages import Button, Message
from .tutor.model import Learner
from .tutor.ports import ProgressRepository

PREFIX = "telegram:"
TRY_IT = "🚀 Try it"


@dataclass(frozen=True)
class Announcement:
    learner_id: str
    chat_id: int
    text: str

    kind = "announcement"

    @property
    def key(self) -> str:
        return f"announce:{digest(self.text)}:{self.learner_id}"

    def message(self) -> Message:
        return Message(f"📣 {self.text}", ((Button(TRY_IT, encode(ListPage(0))),),))


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def select(
    store: ProgressStore, text: str, *, flag: str | None, features: Features, now: dt.datetime
) -> list[Announcement]:
    """One announcement per active Telegram learner who allows announcements (and whom `flag` targets)."""
    chosen = []
    with store.reader() as uow:
        repo = uow.progress
        quiet = repo.opted_out("announcements")
        for learner_id in repo.learner_ids():
            number = learner_id[len(PREFIX) :]
            if not learner_id.startswith(PREFIX) or not number.isdigit() or learner_id in quiet:
                continue
            learner = repo.learner(learner_id)
            if learner is None or not learner.active:
                continue
            if flag is not None and not features.enabled(flag, learner_id, _context(repo, learner, now)):
                continue
            chosen.append(Announcement(learner_id, int(number), text))
    return chosen


def _context(repo: ProgressRepository, learner: Learner, now: dt.datetime) -> ContextSource:
    return lambda: learner_context(repo, learner.id, now, learner=learner)
