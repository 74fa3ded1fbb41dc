"""`fiml-bot remind`: plan today's streak reminders into the database, then send what is due.

Planning reads the learners with a streak in one read-only snapshot (it never holds the write lock
the bot's actions need) and schedules the reminders in batches, each its own short write
transaction, with a pause between two (`PAUSE`) in which a learner's action waiting for SQLite's
write lock gets it: an action waits for one batch at most, never for a run of them. A reminder's
key names the learner's day, so planning again, on any replica, adds nothing.

Sending takes the messages due (reminders, and re-scoring messages not yet seen in the chat) and
sends them like `notify`: at broadcast priority through the fleet's send budget, each claimed in
the database (`sent_at`) in its own transaction before it is sent, so two replicas or a rerun after
a crash never send one twice (a crash between the claim and the send loses that one). A learner
who turned reminders off in `/settings` is not planned for; one who blocked the bot (403) is marked
inactive, which stops every message.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .notify import ProgressStore
from .tutor import review
from .tutor.callbacks import ListPage, encode
from .tutor.messages import Button, Message
from .tutor.model import Notice
from .tutor.reminders import DEFAULT_POLICY, KIND, ReminderPolicy, reminders_for, still_wanted

PREFIX = "telegram:"
BATCH = 250  # reminders per write transaction: a learner's action waits for one batch at most
PAUSE = 0.002  # seconds between two batches: several of a waiting writer's tries (`database.LOCK_POLL`)
SENT_KINDS = (
    KIND,
    "rescore",
    review.KIND,
)  # what `remind` sends (kinds with a sender of their own are not listed)


def plan(
    store: ProgressStore,
    now: dt.datetime,
    policy: ReminderPolicy = DEFAULT_POLICY,
    batch: int = BATCH,
    pause: float = PAUSE,
) -> int:
    """Schedule today's reminders for every Telegram learner with a streak at risk; how many were due."""
    planned = to_plan(store, now, policy)
    for number, chunk in enumerate(_chunks(planned, batch)):
        if number:
            time.sleep(pause)  # the write lock left free: see the module docstring
        with store() as uow:
            uow.progress.schedule_many(chunk)
            uow.commit()
    return len(planned)


def to_plan(store: ProgressStore, now: dt.datetime, policy: ReminderPolicy = DEFAULT_POLICY) -> list[Notice]:
    """Today's reminders (scheduled or not yet) of the learners who have not turned them off."""
    with store.reader() as uow:
        quiet = uow.progress.opted_out("reminders")
    with store.snapshot() as snapshot:
        wanted = (learner for learner in snapshot.streaks(PREFIX) if learner.id not in quiet)
        return list(reminders_for(wanted, now, policy))


def _chunks(items: list[Notice], size: int) -> Iterator[list[Notice]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


_SETTING = {KIND: "reminders", review.KIND: "reviews"}


@dataclass(frozen=True)
class Scheduled:
    """A due scheduled message as `notify.broadcast` sends it."""

    notice: Notice
    chat_id: int

    @property
    def learner_id(self) -> str:
        return self.notice.learner_id

    @property
    def key(self) -> str:
        return f"{self.notice.learner_id}:{self.notice.key}"

    @property
    def kind(self) -> str:
        return self.notice.kind

    def message(self) -> Message:
        button = review.button_for(self.notice) or Button("📚 Lessons", encode(ListPage(0)))
        return Message(self.notice.text, ((button,),))


def due(store: ProgressStore, now: dt.datetime, limit: int = 100_000) -> list[Scheduled]:
    """The unsent messages due by `now` for Telegram learners, oldest first."""
    with store.reader() as uow:
        found = uow.progress.due_everywhere(now, SENT_KINDS, limit)
    out = []
    for notice in found:
        number = notice.learner_id[len(PREFIX) :]
        if notice.learner_id.startswith(PREFIX) and number.isdigit():
            out.append(Scheduled(notice, int(number)))
    return out


def claimer(store: ProgressStore, clock: Callable[[], dt.datetime]) -> Callable[[Any], bool]:
    """Claims a message before it is sent: marks it sent in its own transaction (False: already sent)."""

    def claim(item: Scheduled) -> bool:
        now = clock()
        with store() as uow:
            fresh = uow.progress.mark_sent(item.notice.learner_id, item.notice.key, now)
            if item.notice.kind == KIND:  # studied since it was planned: retired unsent
                fresh = fresh and still_wanted(uow.progress.learner(item.notice.learner_id), now)
            setting = _SETTING.get(item.notice.kind)  # turned off since it was scheduled: retired unsent
            if setting is not None:
                fresh = fresh and uow.progress.message_settings(item.notice.learner_id).allows(setting)
            uow.commit()
            return fresh

    return claim
