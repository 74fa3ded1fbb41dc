"""A scripted load of learners delivered as Telegram does: each learner's updates in order, one at a
time; an update answered anything but 2xx (or not answered) is delivered again, same update_id, until
it is accepted or the deadline passes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from fiml_cms.lesson import MultipleChoiceQuestion, NumericQuestion, TrueFalseQuestion
from testing.fakebotapi import FakeBotApi

from .cluster import SECRET

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass(frozen=True)
class Delivery:
    learner: int
    update_id: int
    status: int | None  # None: no answer (connection reset, timeout)
    color: str | None  # the X-Fiml-Color HAProxy's backend added
    sent: float  # Unix time, comparable with the release's log
    answered: float


@dataclass
class Load:
    fake: FakeBotApi
    url: str
    deadline_per_update: float = 60.0
    deliveries: list[Delivery] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.client = httpx.Client(trust_env=False, timeout=10, limits=httpx.Limits(max_connections=64))

    def close(self) -> None:
        self.client.close()

    def deliver(self, learner: int, update: dict[str, Any]) -> Delivery:
        """Deliver until 2xx; the accepted delivery."""
        import json

        body = json.dumps(update).encode()
        headers = {"Content-Type": "application/json", SECRET_HEADER: SECRET}
        give_up = time.monotonic() + self.deadline_per_update
        pause = 0.05
        while True:
            sent = time.time()
            try:
                response = self.client.post(self.url, content=body, headers=headers)
                status, color = response.status_code, response.headers.get("X-Fiml-Color")
            except httpx.HTTPError:
                status, color = None, None
            delivery = Delivery(learner, update["update_id"], status, color, sent, time.time())
            with self._lock:
                self.deliveries.append(delivery)
            if status is not None and 200 <= status < 300:
                return delivery
            if time.monotonic() > give_up:
                raise AssertionError(
                    f"update {update['update_id']} of learner {learner} not accepted within {self.deadline_per_update} s (last: {status})"
                )
            time.sleep(pause)
            pause = min(pause * 2, 1.0)  # Telegram backs off too

    def run(self, learners: list[int], script: Callable[[Load, int], None], workers: int = 16) -> None:
        with ThreadPoolExecutor(workers) as pool:
            for future in [pool.submit(script, self, learner) for learner in learners]:
                future.result()

    # -- what happened -----------------------------------------------------------------------------
    def accepted(self) -> list[Delivery]:
        return [d for d in self.deliveries if d.status is not None and 200 <= d.status < 300]

    def colors_of(
        self, learner: int, after: float = 0.0, before: float = float("inf"), *, accepted_only: bool = True
    ) -> set[str]:
        """The colors that answered the learner's deliveries sent and answered within [after, before]."""
        deliveries = self.accepted() if accepted_only else self.deliveries
        return {
            d.color
            for d in deliveries
            if d.learner == learner and after <= d.sent and d.answered <= before and d.color
        }


def say(load: Load, learner: int, text: str) -> Delivery:
    return load.deliver(learner, load.fake.user_message(learner, text, enqueue=False))


def tap(load: Load, learner: int, label: str) -> Delivery:
    with_buttons = [m for m in load.fake.messages(learner) if m.from_bot and m.buttons]
    if not with_buttons:
        raise AssertionError(
            f"learner {learner}: no message with buttons to tap {label!r}; the chat: {[m.text[:60] for m in load.fake.messages(learner)]}; deliveries: {[(d.update_id, d.status) for d in load.deliveries if d.learner == learner]}"
        )
    message = with_buttons[-1]
    data = next(d for t, d in message.buttons if label in t)
    return load.deliver(learner, load.fake.callback(learner, message.message_id, data, enqueue=False))


def take_lesson(lesson: Any, title: str) -> Callable[[Load, int], None]:
    """A learner's script: /start, open the lesson, read every section, answer every question right."""

    def script(load: Load, learner: int) -> None:
        say(load, learner, "/start")
        tap(load, learner, "Lessons")
        tap(load, learner, title)
        for _ in lesson.sections:
            buttons = str(load.fake.last_buttons(learner))
            tap(load, learner, "Next" if "Next" in buttons else "Start the quiz")
        for question in lesson.quiz.questions:
            if isinstance(question, MultipleChoiceQuestion):
                tap(load, learner, f"{question.answer + 1}. ")
            elif isinstance(question, TrueFalseQuestion):
                tap(load, learner, "True" if question.answer else "False")
            else:
                assert isinstance(question, NumericQuestion)
                say(load, learner, f"{question.answer:g}")

    return script


def chatter(
    rounds: int, pause: float = 0.0, until: threading.Event | None = None
) -> Callable[[Load, int], None]:
    """A learner's script of at most `rounds` commands that need no buttons (/progress, /help); it
    ends early once `until` is set (traffic for as long as a release runs, and not after)."""

    def script(load: Load, learner: int) -> None:
        for i in range(rounds):
            if until is not None and until.is_set():
                return
            say(load, learner, "/progress" if i % 2 else "/help")
            if pause:
                time.sleep(pause)

    return script


def lesson_xp(lesson: Any) -> int:
    return lesson.xp_reward + sum(q.xp for q in lesson.quiz.questions)


def query(database_url: str, sql: str) -> list[tuple[Any, ...]]:
    from sqlalchemy import create_engine, text

    from fiml_bot.storage.database import parse_url

    engine = create_engine(parse_url(database_url))
    try:
        with engine.begin() as connection:
            result = connection.execute(text(sql))
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def processed_keys(database_url: str) -> list[str]:
    """Every key in processed_events (one per applied update)."""
    return [row[0] for row in query(database_url, "SELECT key FROM processed_events")]


def xp_by_learner(database_url: str) -> dict[str, int]:
    return {
        row[0]: int(row[1])
        for row in query(database_url, "SELECT learner_id, SUM(amount) FROM xp_ledger GROUP BY learner_id")
    }
