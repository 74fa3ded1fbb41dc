"""The broadcasts: lesson updates (`notify`), feature announcements (`announce`) and streak reminders
(`remind`): who is told what, then sent through the fleet's send budget at broadcast priority.

The service decides; a `BroadcastJob` delivers. The job (the bot built, its operations, the Telegram
sender) is composed where the adapters may be imported (`launch.NotifyRun`), so the entry point
hands the service a way to open one (`open_job`). What the operator sees as the service goes (the
updates found, the reminders planned) comes through callbacks, before a missing token stops it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from fiml_cms.errors import UsageError

from .. import announce as announcing
from .. import reminders
from ..bot_settings import BotSettings
from ..notify import LessonUpdate, Notice, Report
from ..ops.flags import FeatureFlags, FlagFileProvider, read_file
from ..ops.runtime import flags_path
from ..tutor.features import Features, NoFeatures
from ..tutor.reminders import ReminderPolicy


class BroadcastJob(Protocol):
    """One broadcast's bot, between selecting and sending (launch.NotifyRun)."""

    token: str

    @property
    def storage(self) -> Any: ...

    def require_token(self) -> str: ...

    def select(self, since: str) -> tuple[dict[str, LessonUpdate], list[Notice]]: ...

    def send(
        self,
        notices: Sequence[Any],
        *,
        rate: float | None,
        paid: bool,
        record: Callable[[Any], bool] | None = None,
    ) -> Report: ...

    def paid_cost(self, notices: Sequence[Notice]) -> tuple[int, float]: ...

    def finish(self, report: Report | None) -> None: ...


#: Opens the job for these settings; `dry_run`: no operations (metrics, alerts), nothing sent.
OpenJob = Callable[[BotSettings, bool], BroadcastJob]


@dataclass(frozen=True)
class Broadcast:
    """What a broadcast chose and, unless it was a dry run or the cost was declined, what was sent."""

    chosen: list[Any]  # notices, announcements or due reminder messages
    report: Report | None  # None: a dry run, or a paid broadcast whose cost was declined
    declined: bool = False  # the operator did not accept a paid broadcast's cost


def notify(
    settings: BotSettings,
    since: str,
    *,
    open_job: OpenJob,
    rate: float | None,
    paid: bool,
    dry_run: bool,
    on_updates: Callable[[Mapping[str, LessonUpdate]], None],
    accept_cost: Callable[[int, float], bool],
) -> Broadcast:
    """The learners whose started or finished lessons got a major or minor update since the git ref
    `since`, told once each. A paid broadcast goes on only when `accept_cost(messages, stars)`."""
    job = open_job(settings, dry_run)
    updates, selected = job.select(since)
    on_updates(updates)
    if dry_run:
        return Broadcast(selected, None)
    job.require_token()
    if paid and not accept_cost(*job.paid_cost(selected)):
        return Broadcast(selected, None, declined=True)
    return Broadcast(selected, _send(job, selected, rate=rate, paid=paid))


def announce(
    settings: BotSettings,
    text: str,
    *,
    flag: str | None,
    flags: Path | None,
    open_job: OpenJob,
    rate: float | None,
    dry_run: bool,
) -> Broadcast:
    """`text` announced once to each active Telegram learner who allows announcements (with `flag`,
    those the feature flag is on for); an unknown flag is a usage error."""
    features = _flag_for(flag, flags, settings.content, settings.env) if flag is not None else NoFeatures()
    job = open_job(settings, dry_run)
    chosen = announcing.select(job.storage, text, flag=flag, features=features, now=dt.datetime.now(dt.UTC))
    if dry_run:
        return Broadcast(chosen, None)
    job.require_token()
    return Broadcast(chosen, _send(job, chosen, rate=rate, paid=False))


@dataclass(frozen=True)
class Reminding:
    """Today's streak reminders: how many were planned (in a dry run: would be) and what was sent."""

    planned: int
    due: int
    report: Report | None  # None: a dry run


def remind(
    settings: BotSettings,
    policy: ReminderPolicy,
    *,
    open_job: OpenJob,
    rate: float | None,
    dry_run: bool,
    on_planned: Callable[[int, int], None],
) -> Reminding:
    """Plan today's reminders and send those due, each claimed in the database before it is sent;
    `on_planned(planned, due)` is told before sending (not in a dry run, which changes nothing)."""
    job = open_job(settings, dry_run)
    now = dt.datetime.now(dt.UTC)
    store = job.storage
    if dry_run:
        return Reminding(len(reminders.to_plan(store, now, policy)), len(reminders.due(store, now)), None)
    planned = reminders.plan(store, now, policy)
    due = reminders.due(store, now)
    on_planned(planned, len(due))
    job.require_token()
    claim = reminders.claimer(store, lambda: dt.datetime.now(dt.UTC))
    return Reminding(planned, len(due), _send(job, due, rate=rate, paid=False, record=claim))


def _send(
    job: BroadcastJob,
    chosen: Sequence[Any],
    *,
    rate: float | None,
    paid: bool,
    record: Callable[[Any], bool] | None = None,
) -> Report:
    report = job.send(chosen, rate=rate, paid=paid, record=record)
    job.finish(report)
    return report


def _flag_for(flag: str, flags: Path | None, content: Path, env: Mapping[str, str]) -> Features:
    """The feature flags of the flag file, refusing a flag it does not have (exit 2)."""
    path = flags if flags is not None else flags_path(content, env)
    loaded = read_file(path)
    if flag not in loaded.flags:
        known = ", ".join(sorted(loaded.flags)) or "none"
        raise UsageError(f"--flag {flag}: no such flag in {path} (known: {known})")
    return FeatureFlags(FlagFileProvider(loaded))
