"""Streak reminders, planned (pure): whom to remind, when, and what to say.

A learner with a streak who has not studied today (their calendar day, in their time zone) gets one
reminder `lead` before their local midnight (default 3 h), keyed by that day, so planning again (or
on another replica) schedules nothing twice. Quiet hours (default 22:00-08:00 local) are respected:
a reminder that would fall in them moves to the last minute before they start; one whose time has
passed is sent at once when that is still before midnight and outside quiet hours, else skipped.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from . import gamification
from .model import Learner, Notice

KIND = "reminder"


@dataclass(frozen=True)
class ReminderPolicy:
    lead: dt.timedelta = dt.timedelta(hours=3)  # before local midnight
    quiet_start: dt.time = dt.time(22, 0)  # local; quiet until quiet_end the next morning
    quiet_end: dt.time = dt.time(8, 0)

    def quiet(self, local: dt.time) -> bool:
        if self.quiet_start <= self.quiet_end:
            return self.quiet_start <= local < self.quiet_end
        return local >= self.quiet_start or local < self.quiet_end


DEFAULT_POLICY = ReminderPolicy()


def still_wanted(learner: Learner | None, now: dt.datetime) -> bool:
    """At send time: the learner is reachable and has not studied since the reminder was planned."""
    if learner is None or not learner.active:
        return False
    today = gamification.local_day(learner.time_zone, now)
    return learner.last_active_day is None or learner.last_active_day < today


def parse_quiet_hours(text: str) -> tuple[dt.time, dt.time]:
    """`22-8` or `22:30-07:00` -> (start, end); ValueError when it is neither."""
    start, _, end = text.strip().partition("-")

    def clock(part: str) -> dt.time:
        hours, _, minutes = part.strip().partition(":")
        return dt.time(int(hours), int(minutes or 0))

    return clock(start), clock(end)


def reminders_for(
    learners: Iterable[Learner], now: dt.datetime, policy: ReminderPolicy = DEFAULT_POLICY
) -> Iterator[Notice]:
    """`reminder_for` over many learners: each time zone's day is worked out once."""
    days: dict[str, _Day | None] = {}
    for learner in learners:
        zone = learner.time_zone
        if zone not in days:
            days[zone] = _zone_day(zone, now, policy)
        notice = _reminder(learner, days[zone], now)
        if notice is not None:
            yield notice


def reminder_for(
    learner: Learner, now: dt.datetime, policy: ReminderPolicy = DEFAULT_POLICY
) -> Notice | None:
    """Today's reminder for `learner`, or None (no streak at risk, studied today, or no time left)."""
    return _reminder(learner, _zone_day(learner.time_zone, now, policy), now)


def _reminder(learner: Learner, day: _Day | None, now: dt.datetime) -> Notice | None:
    if day is None or learner.last_active_day is None or learner.last_active_day >= day.today:
        return None
    # Yesterday's activity keeps the streak as it is; an older one only through a freeze (the rules').
    gap = (day.today - learner.last_active_day).days
    streak = learner.streak_days if gap == 1 else gamification.streak_status(learner, now)
    if streak <= 0:
        return None
    text = f"🔥 Your {streak}-day streak ends at midnight. One lesson step today keeps it going: /lessons"
    return Notice(learner.id, day.key, KIND, text, day.due)


@dataclass(frozen=True)
class _Day:
    today: dt.date
    key: str
    due: dt.datetime  # UTC


@functools.lru_cache(maxsize=1024)
def _zone_day(time_zone: str, now: dt.datetime, policy: ReminderPolicy) -> _Day | None:
    """When a reminder is due today in `time_zone` (the same for every learner there); None: too late."""
    zone = gamification.zone_for(time_zone)
    local_now = now.astimezone(zone)
    today = local_now.date()
    midnight = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(0), zone)
    due = midnight - policy.lead
    if policy.quiet(due.timetz().replace(tzinfo=None)):
        start = dt.datetime.combine(today, policy.quiet_start, zone) - dt.timedelta(minutes=1)
        due = min(due, start) if start.date() == today else due
    if due < local_now:
        if policy.quiet(local_now.time()) or local_now >= midnight:
            return None
        due = local_now
    return _Day(today, f"{KIND}:{today.isoformat()}", due.astimezone(dt.UTC))
