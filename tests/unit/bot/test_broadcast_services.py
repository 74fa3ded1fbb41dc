"""The broadcast services (services/broadcasts.py) over a fake job: what is decided before anything is
sent, in which order the operator hears of it, and when the job is finished."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from fiml_bot.bot_settings import BotSettings
from fiml_bot.notify import LessonUpdate, Notice, Report
from fiml_bot.services.broadcasts import Broadcast, notify, remind
from fiml_bot.storage.memory import MemoryStorage
from fiml_bot.tutor.reminders import ReminderPolicy
from fiml_cms.errors import UsageError
from fiml_cms.versions import Level

UPDATE = LessonUpdate("bonds", "1.0.0", "1.1.0", Level.MINOR)
NOTICE = Notice("telegram:1", 1, "bonds", "Bonds", "1.1.0", "1.0.0", Level.MINOR)


class FakeJob:
    """A BroadcastJob that records what the service asked of it."""

    def __init__(self, token: str = "123:abc") -> None:
        self.token = token
        self.store = MemoryStorage()
        self.calls: list[str] = []

    @property
    def storage(self) -> Any:
        return self.store

    def require_token(self) -> str:
        self.calls.append("require_token")
        if not self.token:
            raise UsageError("set FIML_TELEGRAM_TOKEN")
        return self.token

    def select(self, since: str) -> tuple[dict[str, LessonUpdate], list[Notice]]:
        self.calls.append(f"select {since}")
        return {"bonds": UPDATE}, [NOTICE]

    def send(
        self,
        notices: Sequence[Any],
        *,
        rate: float | None,
        paid: bool,
        record: Callable[[Any], bool] | None = None,
    ) -> Report:
        self.calls.append(f"send {len(notices)} paid={paid}")
        return Report(selected=len(notices), sent=len(notices))

    def paid_cost(self, notices: Sequence[Notice]) -> tuple[int, float]:
        return len(notices), 0.1 * len(notices)

    def finish(self, report: Report | None) -> None:
        self.calls.append("finish")


def run_notify(
    job: FakeJob, heard: list[str], *, dry_run: bool = False, paid: bool = False, accept: bool = True
) -> Broadcast:
    """`notify` over `job`; what the operator is told goes into `heard`, in order."""

    def on_updates(updates: Mapping[str, LessonUpdate]) -> None:
        heard.append(f"updates {sorted(updates)}")

    def accept_cost(messages: int, stars: float) -> bool:
        heard.append(f"cost {messages} {stars:g}")
        return accept

    return notify(
        BotSettings(),
        "v1",
        open_job=lambda settings, dry: job,
        rate=None,
        paid=paid,
        dry_run=dry_run,
        on_updates=on_updates,
        accept_cost=accept_cost,
    )


def test_a_dry_run_selects_and_sends_nothing_without_a_token() -> None:
    job, heard = FakeJob(token=""), []
    done = run_notify(job, heard, dry_run=True)
    assert done.chosen == [NOTICE] and done.report is None
    assert heard == ["updates ['bonds']"] and job.calls == ["select v1"]


def test_the_updates_are_told_before_a_missing_token_stops_it() -> None:
    job, heard = FakeJob(token=""), []
    with pytest.raises(UsageError, match="FIML_TELEGRAM_TOKEN"):
        run_notify(job, heard)
    assert heard == ["updates ['bonds']"] and "finish" not in job.calls


def test_a_declined_paid_broadcast_sends_nothing() -> None:
    job, heard = FakeJob(), []
    done = run_notify(job, heard, paid=True, accept=False)
    assert done.declined and done.report is None
    assert heard == ["updates ['bonds']", "cost 1 0.1"]
    assert not any(call.startswith(("send", "finish")) for call in job.calls)


def test_a_sent_broadcast_is_finished_with_its_report() -> None:
    job = FakeJob()
    done = run_notify(job, [], paid=True)
    assert done.report is not None and done.report.sent == 1
    assert job.calls == ["select v1", "require_token", "send 1 paid=True", "finish"]


def test_a_reminder_dry_run_changes_nothing() -> None:
    job = FakeJob(token="")
    planned: list[tuple[int, int]] = []
    done = remind(
        BotSettings(),
        ReminderPolicy(dt.timedelta(hours=3), dt.time(22), dt.time(8)),
        open_job=lambda settings, dry: job,
        rate=None,
        dry_run=True,
        on_planned=lambda p, d: planned.append((p, d)),
    )
    assert (done.planned, done.due, done.report) == (0, 0, None)
    assert planned == [] and job.calls == []
