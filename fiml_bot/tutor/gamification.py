"""Gamification (SPEC §6): XP, levels, badges and streaks, as tables a product owner can read.

Every rule is a pure function of its arguments: no database, no clock (the caller passes `now`), no
platform. The tutor asks what is due; the unit of work records it. The XP ledger's unique idempotency
key is what makes an award payable once, so the XP functions here only have to name each award's key
the same way every time: a double tap, a stale button or a retried transaction builds the same key,
and the ledger refuses the second copy.

The tables, in the order a reader meets them: `XP_RULES`, `LEVELS`, `BADGES` (plus one badge per
learning path), `STREAK_RULES`. `rules_text()` renders all four as plain text for help screens and docs.

Decisions, where the brief left a choice:

* **The streak freeze recharges 7 days after the day it covered** (a rolling week), not at the start
  of each calendar week. With a calendar-week rule a learner could miss a Sunday and the Tuesday after
  it and have both forgiven; the rolling rule guarantees at most one forgiven day in any 7 consecutive
  days, and it needs no "first day of the week", which differs between countries. The recharge is
  derived from `freeze_used_on`, so a learner who is away when it comes back still gets it.
* **A freeze covers exactly one missed day**, and only when the learner comes back the day after it
  (a two-day gap). It is spent when the learner comes back, not on the missed day itself, so a
  learner who never comes back keeps it.
* **Calendar days are the learner's**, in their IANA time zone (`zoneinfo`, which knows every
  daylight-saving rule). An unknown zone counts as UTC; `valid_time_zone` lets settings refuse it
  first. After a time-zone change the new zone applies from then on: `last_active_day` keeps the date
  it was recorded under, a local day earlier than it (flying west) counts as already done, never as a
  gap or a negative streak.
* **One badge per learning path** (`path_complete:<path id>`), not one badge for "any path": each
  path is an achievement of its own, and a path added to the content later brings its own badge
  with no code change. The id is the path's permanent id, so it stays stable when a title changes.
* **A completer who was paid nothing for a lesson** (its `xp_reward` was 0 when they completed it)
  and whose reward then rises is paid under the lesson key `lesson:<id>`, not a raise key: that
  credit *is* their first payment for the lesson, and sharing the key with `lesson_completion_award`
  means a retake and a raise processed at the same time cannot both pay.
* **Naive datetimes are read as UTC** (SQLite hands back naive values for UTC columns).
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fiml_cms.lesson import LearningPath

from .model import BadgeAward, Learner, LearnerSnapshot, XpAward

# ==============================================================================================
# XP
# ==============================================================================================


@dataclass(frozen=True)
class XpRule:
    """One way to earn XP: when it pays, how much, and the key that makes it payable once."""

    id: str
    when: str
    pays: str
    once_per: str  # the idempotency key in the ledger
    description: str


XP_RULES: tuple[XpRule, ...] = (
    XpRule(
        id="lesson",
        when="A learner completes a lesson (passes its quiz)",
        pays="the lesson's xp_reward",
        once_per="lesson:<lesson_id>",
        description=(
            "Paid the first time the learner completes the lesson, whatever its version. Retaking it, or "
            "completing a newer version, pays nothing more for the lesson itself (see lesson-raise)."
        ),
    ),
    XpRule(
        id="answer",
        when="A learner answers a quiz question correctly",
        pays="the question's xp (10 unless the lesson says otherwise)",
        once_per="answer:<lesson_id>:<question_id>",
        description=(
            "Paid once per question, ever: retakes cannot farm XP, but a question added in a new version "
            "pays the first time it is answered correctly. A wrong answer pays nothing and costs nothing."
        ),
    ),
    XpRule(
        id="lesson-raise",
        when="A lesson's xp_reward rises above what a learner who completed it was paid for it",
        pays="the difference",
        once_per="lesson-raise:<lesson_id>:<new xp_reward>",
        description=(
            "Credited to everyone who completed the lesson, the next time they use the bot. XP is never "
            "taken back: lowering xp_reward changes nothing for those who were paid more."
        ),
    ),
)

REASON_LESSON = "lesson completed"
REASON_ANSWER = "correct answer"
REASON_RAISE = "lesson reward raised"


def lesson_key(lesson_id: str) -> str:
    return f"lesson:{lesson_id}"


def answer_key(lesson_id: str, question_id: str) -> str:
    return f"answer:{lesson_id}:{question_id}"


def raise_key(lesson_id: str, new_reward: int) -> str:
    return f"lesson-raise:{lesson_id}:{new_reward}"


def lesson_completion_award(
    learner_id: str,
    lesson_id: str,
    version: str,
    xp_reward: int,
    paid_so_far_for_lesson: int,
    now: dt.datetime,
) -> XpAward | None:
    """The lesson's reward, when nothing has been paid for the lesson yet; else None.

    `paid_so_far_for_lesson` is what the ledger holds under the lesson's completion and raise keys
    (`paid_for_lesson`). A retake or a newer version pays nothing here; a raised reward is
    `raise_award`'s business.
    """
    if paid_so_far_for_lesson > 0 or xp_reward <= 0:
        return None
    return XpAward(learner_id, xp_reward, REASON_LESSON, lesson_key(lesson_id), lesson_id, version, now)


def answer_award(
    learner_id: str, lesson_id: str, version: str, question_id: str, xp: int, now: dt.datetime
) -> XpAward | None:
    """The question's XP for a correct answer (call it only for one), keyed once per lesson and question.

    The ledger refuses the key the second time, so a retake, a stale button or a double tap pays
    nothing. For a renamed lesson, check `answer_paid` under its former ids first.
    """
    if xp <= 0:
        return None
    return XpAward(learner_id, xp, REASON_ANSWER, answer_key(lesson_id, question_id), lesson_id, version, now)


def raise_award(
    learner_id: str,
    lesson_id: str,
    version: str,
    new_reward: int,
    paid_so_far_for_lesson: int,
    now: dt.datetime,
) -> XpAward | None:
    """For a learner who completed the lesson: the difference when `new_reward` exceeds what they were paid.

    Never negative: a lowered reward returns None. Keyed by the new reward, so each raise pays at most
    once. A completer paid nothing so far gets the lesson key (see the module docstring).
    """
    owed = new_reward - max(paid_so_far_for_lesson, 0)
    if owed <= 0:
        return None
    if paid_so_far_for_lesson <= 0:
        return XpAward(learner_id, owed, REASON_RAISE, lesson_key(lesson_id), lesson_id, version, now)
    return XpAward(learner_id, owed, REASON_RAISE, raise_key(lesson_id, new_reward), lesson_id, version, now)


def _as_ids(lesson_ids: str | Iterable[str]) -> tuple[str, ...]:
    return (lesson_ids,) if isinstance(lesson_ids, str) else tuple(lesson_ids)


def paid_for_lesson(awards: Iterable[XpAward], lesson_ids: str | Iterable[str]) -> int:
    """What the ledger paid for completing a lesson (completion + raises, not answers).

    Pass the lesson's id and the ids it `replaces`, so a renamed lesson's earlier payments count.
    Lesson ids cannot contain ':', so the key prefixes are unambiguous.
    """
    ids = _as_ids(lesson_ids)
    exact = {lesson_key(i) for i in ids}
    prefixes = tuple(f"lesson-raise:{i}:" for i in ids)
    return sum(a.amount for a in awards if a.key in exact or a.key.startswith(prefixes))


def answer_paid(awards: Iterable[XpAward], lesson_ids: str | Iterable[str], question_id: str) -> bool:
    """Whether a correct answer to this question already paid, under the lesson's id or a former one."""
    keys = {answer_key(i, question_id) for i in _as_ids(lesson_ids)}
    return any(a.key in keys for a in awards)


# ==============================================================================================
# Levels
# ==============================================================================================


class Level(NamedTuple):
    number: int
    min_xp: int
    name: str


LEVELS: tuple[Level, ...] = (
    Level(1, 0, "Novice"),
    Level(2, 100, "Apprentice"),
    Level(3, 250, "Saver"),
    Level(4, 500, "Investor"),
    Level(5, 1_000, "Analyst"),
    Level(6, 2_000, "Strategist"),
    Level(7, 4_000, "Portfolio Manager"),
    Level(8, 8_000, "Expert"),
    Level(9, 16_000, "Master"),
    Level(10, 32_000, "Legend"),
)
_THRESHOLDS = tuple(level.min_xp for level in LEVELS)


class LevelProgress(NamedTuple):
    level: int
    xp_into_level: int  # XP earned since the level began
    xp_for_next: (
        int | None
    )  # the XP the whole level spans (a bar is xp_into_level / xp_for_next); None at the top

    @property
    def xp_to_next(self) -> int | None:
        """XP still needed for the next level; None at the top."""
        return None if self.xp_for_next is None else self.xp_for_next - self.xp_into_level


def level_for(xp: int) -> int:
    """The level reached with `xp` total XP (level 1 from 0 XP; below 0 counts as 0)."""
    return max(bisect.bisect_right(_THRESHOLDS, xp), 1)


def level_name(level: int) -> str:
    if 1 <= level <= len(LEVELS):
        return LEVELS[level - 1].name
    return LEVELS[0].name if level < 1 else LEVELS[-1].name


def level_progress(xp: int) -> LevelProgress:
    xp = max(xp, 0)
    level = level_for(xp)
    start = _THRESHOLDS[level - 1]
    span = _THRESHOLDS[level] - start if level < len(LEVELS) else None
    return LevelProgress(level, xp - start, span)


# ==============================================================================================
# Badges
# ==============================================================================================


@dataclass(frozen=True)
class BadgeContext:
    """What a badge rule sees: the learner after this action, the paths, and this quiz attempt."""

    snapshot: LearnerSnapshot
    paths: tuple[LearningPath, ...]
    perfect_attempt: bool
    completed: frozenset[str]  # distinct lesson ids with a completion
    streak: int  # the streak as of now (`streak_status`)

    @property
    def xp(self) -> int:
        return self.snapshot.xp_total


@dataclass(frozen=True)
class Badge:
    id: str
    title: str
    description: str
    rule: Callable[[BadgeContext], bool] = field(repr=False, compare=False)


def _perfect_quiz(c: BadgeContext) -> bool:
    # The flag is about this attempt; the completion check makes sure a quiz with questions was completed.
    return c.perfect_attempt and any(x.total > 0 and x.score == x.total for x in c.snapshot.completions)


def _three_in_one_path(c: BadgeContext) -> bool:
    return any(len(c.completed.intersection(p.lessons)) >= 3 for p in c.paths)


BADGES: tuple[Badge, ...] = (
    Badge("first_steps", "First Steps", "Complete your first lesson.", lambda c: len(c.completed) >= 1),
    Badge("perfect_quiz", "Perfect Score", "Answer every question of a quiz correctly.", _perfect_quiz),
    Badge(
        "path_explorer", "Path Explorer", "Complete 3 lessons of the same learning path.", _three_in_one_path
    ),
    Badge("five_lessons", "Keen Learner", "Complete 5 different lessons.", lambda c: len(c.completed) >= 5),
    Badge(
        "ten_lessons", "Dedicated Learner", "Complete 10 different lessons.", lambda c: len(c.completed) >= 10
    ),
    Badge("week_warrior", "Week Warrior", "Learn 7 days in a row.", lambda c: c.streak >= 7),
    Badge("month_master", "Month Master", "Learn 30 days in a row.", lambda c: c.streak >= 30),
    Badge("xp_1000", "Thousand Club", "Earn 1,000 XP.", lambda c: c.xp >= 1_000),
)
PATH_BADGE_PREFIX = "path_complete:"
PATH_BADGE_ROW = (
    f"{PATH_BADGE_PREFIX}<path id>",
    "Path complete: <path title>",
    "Complete every lesson of a learning path (one badge per path).",
)


def path_badge(path: LearningPath) -> Badge:
    lessons = frozenset(path.lessons)
    return Badge(
        f"{PATH_BADGE_PREFIX}{path.id}",
        f"Path complete: {path.title}",
        f"Complete every lesson of the path {path.title}.",
        lambda c: bool(lessons) and lessons <= c.completed,
    )


def badge_table(paths: Iterable[LearningPath]) -> tuple[Badge, ...]:
    """The fixed badges, then one per learning path (first occurrence of each path id)."""
    seen: dict[str, LearningPath] = {}
    for path in paths:
        seen.setdefault(path.id, path)
    return BADGES + tuple(path_badge(p) for p in seen.values())


def badge_title(badge_id: str, paths: Iterable[LearningPath] = ()) -> str:
    """A badge's title for display; unknown ids (a badge retired from the table) show their id."""
    for badge in badge_table(paths):
        if badge.id == badge_id:
            return badge.title
    if badge_id.startswith(PATH_BADGE_PREFIX):
        return "Path complete: " + badge_id[len(PATH_BADGE_PREFIX) :].replace("_", " ").title()
    return badge_id


def new_badges(
    snapshot: LearnerSnapshot, paths: Sequence[LearningPath], *, perfect_attempt: bool, now: dt.datetime
) -> list[BadgeAward]:
    """Badges the learner earns now and does not hold yet, in table order.

    Take the snapshot after the action's XP and completion are recorded. `perfect_attempt`: every
    answer of the attempt just completed was correct.
    """
    context = BadgeContext(
        snapshot=snapshot,
        paths=tuple(paths),
        perfect_attempt=perfect_attempt,
        completed=frozenset(c.lesson_id for c in snapshot.completions),
        streak=streak_status(snapshot.learner, now),
    )
    learner_id = snapshot.learner.id
    return [
        BadgeAward(learner_id, b.id, now)
        for b in badge_table(paths)
        if b.id not in snapshot.badges and b.rule(context)
    ]


# ==============================================================================================
# Streaks
# ==============================================================================================

FREEZE_RECHARGE = dt.timedelta(days=7)

STREAK_RULES: tuple[tuple[str, str], ...] = (
    ("The first activity ever", "the streak is 1"),
    ("Another activity on the same calendar day", "nothing changes (a day counts once)"),
    ("Activity on the next calendar day", "the streak grows by 1"),
    (
        "Exactly one day missed, freeze ready",
        "the freeze covers the missed day, the streak grows by 1, the freeze is used",
    ),
    ("One day missed and no freeze ready, or two or more days missed", "the streak starts again at 1"),
    ("The freeze", "one; it is ready again 7 days after the day it covered"),
    (
        "Calendar days",
        (
            "midnight to midnight in the learner's time zone (UTC until they set one); after a change, "
            "the new zone counts from then on"
        ),
    ),
    ("Showing the streak", "0 as soon as more days were missed than the freeze can cover"),
)

UTC = ZoneInfo("UTC")
# Names zoneinfo can load that are not time zones a learner lives in: machine-dependent aliases,
# tzdata's placeholder, and the leap-second ("right/") and POSIX-rule trees.
_NOT_LEARNER_ZONES = frozenset({"localtime", "posixrules", "Factory"})
_NOT_LEARNER_PREFIXES = ("right/", "posix/")


@functools.lru_cache(maxsize=1024)
def valid_time_zone(name: str) -> bool:
    """Whether `name` is an IANA time zone (Europe/Berlin, America/New_York, UTC, Etc/GMT+5, ...)."""
    if (
        not isinstance(name, str)
        or not name
        or name in _NOT_LEARNER_ZONES
        or name.startswith(_NOT_LEARNER_PREFIXES)
    ):
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # unknown, malformed, or a folder (OSError)
        return False
    return True


def zone_for(name: str) -> ZoneInfo:
    """The learner's zone; UTC when the name is unknown."""
    return ZoneInfo(name) if valid_time_zone(name) else UTC


def _utc(now: dt.datetime) -> dt.datetime:
    return now.replace(tzinfo=dt.UTC) if now.tzinfo is None else now


def local_day(time_zone: str, now_utc: dt.datetime) -> dt.date:
    """The calendar day it is at `now_utc` in `time_zone`."""
    return _utc(now_utc).astimezone(zone_for(time_zone)).date()


def _freeze_ready_for(learner: Learner, day: dt.date) -> bool:
    """Whether the freeze is ready on `day` (stored as available, or recharged since it was used)."""
    if learner.freeze_available:
        return True
    return learner.freeze_used_on is not None and day >= learner.freeze_used_on + FREEZE_RECHARGE


def record_activity(learner: Learner, now_utc: dt.datetime) -> Learner:
    """The learner after an activity at `now_utc`: streak, last active day and freeze updated.

    Returns the same object when the local day is already counted (idempotent within a day).
    """
    today = local_day(learner.time_zone, now_utc)
    last = learner.last_active_day
    if last is not None and today <= last:
        return learner  # already counted; earlier than `last` only after flying west
    freeze_available = _freeze_ready_for(learner, today)
    freeze_used_on = learner.freeze_used_on
    gap = None if last is None else (today - last).days
    if gap is None or learner.streak_days <= 0:
        streak = 1
    elif gap == 1:
        streak = learner.streak_days + 1
    elif gap == 2 and _freeze_ready_for(learner, today - dt.timedelta(days=1)):
        streak = learner.streak_days + 1
        freeze_available, freeze_used_on = False, today - dt.timedelta(days=1)
    else:
        streak = 1
    return replace(
        learner,
        streak_days=streak,
        last_active_day=today,
        freeze_available=freeze_available,
        freeze_used_on=freeze_used_on,
    )


@dataclass(frozen=True)
class StreakStatus:
    """The streak as a learner should see it at a moment."""

    days: int  # 0 once more days were missed than the freeze covers
    today: dt.date  # in the learner's zone
    active_today: bool
    freeze_ready: bool  # ready to cover a future missed day
    freeze_covering: (
        dt.date | None
    )  # yesterday was missed: the freeze covers it if the learner is active today
    freeze_back_on: dt.date | None  # when a used freeze is ready again


def streak_details(learner: Learner, now_utc: dt.datetime) -> StreakStatus:
    today = local_day(learner.time_zone, now_utc)
    last = learner.last_active_day
    streak = max(learner.streak_days, 0)
    ready = _freeze_ready_for(learner, today)
    covering: dt.date | None = None
    if last is None:
        days, active = 0, False
    elif today <= last:
        days, active = streak, True
    elif (today - last).days == 1:
        days, active = streak, False
    elif (today - last).days == 2 and streak > 0 and _freeze_ready_for(learner, today - dt.timedelta(days=1)):
        days, active, covering, ready = streak, False, today - dt.timedelta(days=1), False
    else:
        days, active = 0, False
    if ready:
        back_on = None
    elif covering is not None:
        back_on = covering + FREEZE_RECHARGE
    elif learner.freeze_used_on is not None:
        back_on = learner.freeze_used_on + FREEZE_RECHARGE
    else:
        back_on = None  # unavailable with no recorded use: it never recharges
    return StreakStatus(days, today, active, ready, covering, back_on)


def streak_status(learner: Learner, now_utc: dt.datetime) -> int:
    """The streak as of now, for display: 0 once more days were missed than the freeze can cover."""
    return streak_details(learner, now_utc).days


def freeze_ready(learner: Learner, now_utc: dt.datetime) -> bool:
    """Whether a freeze is ready to cover a future missed day (recharges included)."""
    return streak_details(learner, now_utc).freeze_ready


# ==============================================================================================
# All the rules, as text
# ==============================================================================================


def rules_text(paths: Collection[LearningPath] = ()) -> str:
    """Every table above, in plain text: for a help screen, the docs, or a product review."""
    lines = ["XP", ""]
    for rule in XP_RULES:
        lines += [f"- {rule.when}: pays {rule.pays}, once per {rule.once_per}.", f"  {rule.description}"]
    lines += ["", "Levels", ""]
    for level in LEVELS:
        lines.append(f"- Level {level.number}, {level.name}: from {level.min_xp:,} XP")
    lines += ["", "Badges", ""]
    for badge in BADGES:
        lines.append(f"- {badge.title} ({badge.id}): {badge.description}")
    badge_id, title, description = PATH_BADGE_ROW
    lines.append(f"- {title} ({badge_id}): {description}")
    for path in paths:
        lines.append(f"  - {path_badge(path).title}")
    lines += ["", "Streaks", ""]
    for situation, result in STREAK_RULES:
        lines.append(f"- {situation}: {result}.")
    return "\n".join(lines)
