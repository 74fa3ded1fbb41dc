"""Gamification rules: XP keys and amounts, level boundaries, every badge, streaks across days and zones."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fiml_bot.tutor import gamification as g
from fiml_bot.tutor.model import (
    BadgeAward,
    Completion,
    Learner,
    LearnerSnapshot,
    XpAward,
)
from fiml_cms.lesson import LearningPath

NOW = dt.datetime(2024, 6, 10, 12, 0, tzinfo=dt.UTC)
D = dt.date


def at(zone: str, text: str, fold: int = 0) -> dt.datetime:
    """A local wall-clock time in `zone`, as an aware UTC datetime."""
    local = dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone), fold=fold)
    return local.astimezone(dt.UTC)


def learner(**kw: object) -> Learner:
    return Learner("console:test", **kw)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------
# XP
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("xp_reward", "paid", "expected"),
    [
        (50, 0, 50),  # first completion pays the reward
        (50, 50, None),  # a retake pays nothing more
        (80, 50, None),  # a newer version with a higher reward: the raise is raise_award's job
        (0, 0, None),  # nothing to pay
    ],
)
def test_lesson_completion_award(xp_reward: int, paid: int, expected: int | None) -> None:
    award = g.lesson_completion_award("u", "risk_and_return", "1.2.0", xp_reward, paid, NOW)
    if expected is None:
        assert award is None
    else:
        assert award == XpAward(
            "u", expected, g.REASON_LESSON, "lesson:risk_and_return", "risk_and_return", "1.2.0", NOW
        )


@pytest.mark.parametrize(("xp", "expected"), [(10, 10), (25, 25), (0, None)])
def test_answer_award(xp: int, expected: int | None) -> None:
    award = g.answer_award("u", "diversification", "2.0.0", "q3", xp, NOW)
    if expected is None:
        assert award is None
    else:
        assert award is not None
        assert (award.amount, award.key, award.lesson_id, award.version, award.awarded_at) == (
            expected,
            "answer:diversification:q3",
            "diversification",
            "2.0.0",
            NOW,
        )


def test_answer_keys_are_per_lesson_and_question_not_per_version() -> None:
    old = g.answer_award("u", "l_one", "1.0.0", "q1", 10, NOW)
    retake_newer = g.answer_award("u", "l_one", "1.1.0", "q1", 10, NOW)
    added = g.answer_award("u", "l_one", "1.1.0", "q9", 10, NOW)
    other_lesson = g.answer_award("u", "l_two", "1.0.0", "q1", 10, NOW)
    assert old is not None and retake_newer is not None and added is not None and other_lesson is not None
    assert old.key == retake_newer.key  # the ledger refuses the second one
    assert len({old.key, added.key, other_lesson.key}) == 3


@pytest.mark.parametrize(
    ("new_reward", "paid", "amount", "key"),
    [
        (80, 50, 30, "lesson-raise:l_one:80"),
        (100, 80, 20, "lesson-raise:l_one:100"),  # a second raise pays its own difference
        (50, 50, None, None),  # unchanged
        (30, 50, None, None),  # lowered: never debited
        (60, 80, None, None),  # lowered after a raise
        (50, 0, 50, "lesson:l_one"),  # completed at reward 0: the first payment shares the lesson key
    ],
)
def test_raise_award(new_reward: int, paid: int, amount: int | None, key: str | None) -> None:
    award = g.raise_award("u", "l_one", "1.3.0", new_reward, paid, NOW)
    if amount is None:
        assert award is None
    else:
        assert award is not None and (award.amount, award.key, award.version) == (amount, key, "1.3.0")


def test_raise_then_retake_at_zero_first_reward_cannot_both_pay() -> None:
    raised = g.raise_award("u", "l_one", "1.1.0", 50, 0, NOW)
    retake = g.lesson_completion_award("u", "l_one", "1.1.0", 50, 0, NOW)
    assert raised is not None and retake is not None and raised.key == retake.key


class Ledger:
    """A minimal ledger with the store's rule: a key pays once."""

    def __init__(self) -> None:
        self.awards: list[XpAward] = []

    def pay(self, award: XpAward | None) -> int:
        if award is None or any(a.key == award.key for a in self.awards):
            return 0
        self.awards.append(award)
        return award.amount

    @property
    def total(self) -> int:
        return sum(a.amount for a in self.awards)


def test_a_lesson_history_pays_exactly_what_it_should() -> None:
    ledger = Ledger()

    def complete(version: str, reward: int, questions: dict[str, int]) -> None:
        for qid, xp in questions.items():
            ledger.pay(g.answer_award("u", "l_one", version, qid, xp, NOW))
        paid = g.paid_for_lesson(ledger.awards, "l_one")  # read once, as in one transaction
        ledger.pay(g.lesson_completion_award("u", "l_one", version, reward, paid, NOW))
        ledger.pay(g.raise_award("u", "l_one", version, reward, paid, NOW))

    complete("1.0.0", 50, {"q1": 10, "q2": 10})
    assert ledger.total == 70
    complete("1.0.0", 50, {"q1": 10, "q2": 10})  # retake: nothing
    assert ledger.total == 70
    complete("1.1.0", 50, {"q1": 10, "q2": 10, "q3": 15})  # new question pays once
    assert ledger.total == 85
    complete("1.2.0", 80, {"q1": 10})  # raised reward: +30
    assert ledger.total == 115
    complete("1.3.0", 60, {"q1": 10})  # lowered: nothing taken back
    assert ledger.total == 115
    assert g.paid_for_lesson(ledger.awards, "l_one") == 80


def test_paid_for_lesson_counts_former_ids_and_ignores_answers_and_other_lessons() -> None:
    awards = [
        XpAward("u", 50, "", "lesson:old_name", "old_name"),
        XpAward("u", 20, "", "lesson-raise:old_name:70", "old_name"),
        XpAward("u", 10, "", "answer:old_name:q1", "old_name"),
        XpAward("u", 5, "", "lesson-raise:new_name:75", "new_name"),
        XpAward("u", 99, "", "lesson:old_name_two", "old_name_two"),  # a prefix of nothing we ask for
    ]
    assert g.paid_for_lesson(awards, "new_name") == 5
    assert g.paid_for_lesson(awards, ["new_name", "old_name"]) == 75
    assert g.answer_paid(awards, ["new_name", "old_name"], "q1")
    assert not g.answer_paid(awards, "new_name", "q1")


def test_xp_rules_table_is_readable() -> None:
    assert [r.id for r in g.XP_RULES] == ["lesson", "answer", "lesson-raise"]
    for rule in g.XP_RULES:
        assert rule.when and rule.pays and rule.once_per and rule.description
    text = g.rules_text([LearningPath("foundations", "Market Foundations", "", ("a_one",))])
    for needle in (
        "lesson:<lesson_id>",
        "Legend",
        "Week Warrior",
        "Path complete: Market Foundations",
        "freeze",
    ):
        assert needle in text


# ----------------------------------------------------------------------------------------------
# Levels
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("xp", "level", "into", "span"),
    [
        (-5, 1, 0, 100),
        (0, 1, 0, 100),
        (99, 1, 99, 100),
        (100, 2, 0, 150),
        (249, 2, 149, 150),
        (250, 3, 0, 250),
        (499, 3, 249, 250),
        (500, 4, 0, 500),
        (999, 4, 499, 500),
        (1000, 5, 0, 1000),
        (1999, 5, 999, 1000),
        (2000, 6, 0, 2000),
        (3999, 6, 1999, 2000),
        (4000, 7, 0, 4000),
        (7999, 7, 3999, 4000),
        (8000, 8, 0, 8000),
        (15999, 8, 7999, 8000),
        (16000, 9, 0, 16000),
        (31999, 9, 15999, 16000),
        (32000, 10, 0, None),
        (10**15, 10, 10**15 - 32000, None),
    ],
)
def test_level_boundaries(xp: int, level: int, into: int, span: int | None) -> None:
    assert g.level_for(xp) == level
    progress = g.level_progress(xp)
    assert progress == (level, into, span)
    assert progress.xp_to_next == (None if span is None else span - into)


def test_level_names() -> None:
    assert [g.level_name(n) for n in (1, 2, 10)] == ["Novice", "Apprentice", "Legend"]
    assert g.level_name(0) == "Novice" and g.level_name(11) == "Legend"
    assert [lvl.min_xp for lvl in g.LEVELS] == [0, 100, 250, 500, 1000, 2000, 4000, 8000, 16000, 32000]


@given(st.integers(min_value=-10, max_value=10**7), st.integers(min_value=0, max_value=10**7))
def test_level_is_monotonic_in_xp(xp: int, more: int) -> None:
    assert g.level_for(xp) <= g.level_for(xp + more)
    progress = g.level_progress(xp)
    assert g.LEVELS[progress.level - 1].min_xp + progress.xp_into_level == max(xp, 0)
    assert progress.xp_for_next is None or 0 <= progress.xp_into_level < progress.xp_for_next


# ----------------------------------------------------------------------------------------------
# Badges
# ----------------------------------------------------------------------------------------------

FOUNDATIONS = LearningPath("foundations", "Market Foundations", "", ("a_one", "a_two", "a_three", "a_four"))
RISK = LearningPath("managing_risk", "Managing Risk", "", ("a_four", "b_one", "b_two"))
PATHS = [FOUNDATIONS, RISK]


def done(*lesson_ids: str, score: int = 2, total: int = 3) -> tuple[Completion, ...]:
    return tuple(Completion("console:test", lid, "1.0.0", 1, score, total, 50, NOW) for lid in lesson_ids)


def snapshot(
    completions: tuple[Completion, ...] = (),
    xp: int = 0,
    badges: frozenset[str] = frozenset(),
    who: Learner | None = None,
) -> LearnerSnapshot:
    return LearnerSnapshot(who or learner(), xp, completions, badges)


def earned(snap: LearnerSnapshot, perfect: bool = False, paths: list[LearningPath] = PATHS) -> set[str]:
    return {b.badge for b in g.new_badges(snap, paths, perfect_attempt=perfect, now=NOW)}


def streaked(days: int) -> Learner:
    return learner(streak_days=days, last_active_day=D(2024, 6, 10))


@pytest.mark.parametrize(
    ("snap", "perfect", "badge", "expected"),
    [
        (snapshot(), False, "first_steps", False),
        (snapshot(done("x_one")), False, "first_steps", True),
        (snapshot(done("x_one")), False, "perfect_quiz", False),
        (snapshot(done("x_one", score=3, total=3)), True, "perfect_quiz", True),
        (snapshot(done("x_one", score=0, total=0)), True, "perfect_quiz", False),  # a quiz with no questions
        (snapshot(done("a_one", "a_two")), False, "path_explorer", False),
        (snapshot(done("a_one", "b_one", "b_two")), False, "path_explorer", False),  # 3 lessons, 2 paths
        (
            snapshot(done("a_four", "b_one", "b_two")),
            False,
            "path_explorer",
            True,
        ),  # a shared lesson counts in each path
        (
            snapshot(done("a_one", "a_one", "a_two")),
            False,
            "path_explorer",
            False,
        ),  # a retake is not a new lesson
        (snapshot(done("a_one", "a_two", "a_three")), False, "path_explorer", True),
        (snapshot(done("a_one", "a_two", "a_three")), False, "path_complete:foundations", False),
        (snapshot(done("a_one", "a_two", "a_three", "a_four")), False, "path_complete:foundations", True),
        (snapshot(done("a_one", "a_two", "a_three", "a_four")), False, "path_complete:managing_risk", False),
        (snapshot(done("v1", "v2", "v3", "v4")), False, "five_lessons", False),
        (snapshot(done("v1", "v2", "v3", "v4", "v5")), False, "five_lessons", True),
        (snapshot(done(*[f"v{i}" for i in range(9)])), False, "ten_lessons", False),
        (snapshot(done(*[f"v{i}" for i in range(10)])), False, "ten_lessons", True),
        (snapshot(who=streaked(6)), False, "week_warrior", False),
        (snapshot(who=streaked(7)), False, "week_warrior", True),
        (snapshot(who=streaked(29)), False, "month_master", False),
        (snapshot(who=streaked(30)), False, "month_master", True),
        (snapshot(xp=999), False, "xp_1000", False),
        (snapshot(xp=1000), False, "xp_1000", True),
    ],
)
def test_each_badge(snap: LearnerSnapshot, perfect: bool, badge: str, expected: bool) -> None:
    assert (badge in earned(snap, perfect)) is expected
    # never twice: a learner who holds it does not get it again
    assert badge not in earned(replace(snap, badges=snap.badges | {badge}), perfect)


def test_a_broken_streak_earns_no_streak_badge() -> None:
    stale = learner(streak_days=30, last_active_day=D(2024, 5, 1))  # long gone: the streak shows 0 now
    assert not earned(snapshot(who=stale)) & {"week_warrior", "month_master"}


def test_new_badges_returns_awards_in_table_order_without_held_ones() -> None:
    snap = snapshot(
        done("a_one", "a_two", "a_three", "a_four", "b_one", score=3, total=3),
        xp=1200,
        badges=frozenset({"first_steps"}),
    )
    awards = g.new_badges(snap, PATHS, perfect_attempt=True, now=NOW)
    assert awards == [
        BadgeAward("console:test", b, NOW)
        for b in ["perfect_quiz", "path_explorer", "five_lessons", "xp_1000", "path_complete:foundations"]
    ]


def test_empty_or_repeated_paths() -> None:
    empty = LearningPath("empty_path", "Empty", "", ())
    snap = snapshot(done("a_one", "a_two", "a_three", "a_four"))
    got = g.new_badges(snap, [FOUNDATIONS, FOUNDATIONS, empty], perfect_attempt=False, now=NOW)
    assert [a.badge for a in got].count("path_complete:foundations") == 1
    assert "path_complete:empty_path" not in {a.badge for a in got}


def test_badge_titles() -> None:
    assert g.badge_title("week_warrior") == "Week Warrior"
    assert g.badge_title("path_complete:foundations", PATHS) == "Path complete: Market Foundations"
    assert g.badge_title("path_complete:managing_risk") == "Path complete: Managing Risk"  # without the paths
    assert g.badge_title("retired_badge") == "retired_badge"
    assert len({b.id for b in g.BADGES}) == len(g.BADGES)


# ----------------------------------------------------------------------------------------------
# Time zones
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("Europe/Berlin", True),
        ("America/New_York", True),
        ("UTC", True),
        ("Etc/GMT+5", True),
        ("Asia/Kolkata", True),
        ("utc", False),
        ("Mars/Olympus_Mons", False),
        ("America", False),  # a folder
        ("", False),
        ("../../etc/passwd", False),
        ("/etc/localtime", False),
        ("localtime", False),
        ("posixrules", False),
        ("right/UTC", False),
        ("Europe/Berlin\x00", False),
        ("x" * 5000, False),
    ],
)
def test_valid_time_zone(name: str, valid: bool) -> None:
    assert g.valid_time_zone(name) is valid


def test_unknown_zone_counts_as_utc() -> None:
    moment = dt.datetime(2024, 6, 10, 23, 30, tzinfo=dt.UTC)
    assert g.local_day("Mars/Olympus_Mons", moment) == D(2024, 6, 10)
    assert g.local_day("Asia/Tokyo", moment) == D(2024, 6, 11)
    assert g.local_day("UTC", moment.replace(tzinfo=None)) == D(2024, 6, 10)  # naive means UTC


# ----------------------------------------------------------------------------------------------
# Streaks
# ----------------------------------------------------------------------------------------------


def run(zone: str, *moments: str, start: Learner | None = None) -> Learner:
    who = start or learner(time_zone=zone)
    for moment in moments:
        who = g.record_activity(who, at(zone, moment))
    return who


@pytest.mark.parametrize(
    ("moments", "streak", "freeze_available", "freeze_used_on"),
    [
        (["2024-06-10 09:00"], 1, True, None),  # first activity
        (["2024-06-10 09:00", "2024-06-10 23:59"], 1, True, None),  # same day
        (["2024-06-10 09:00", "2024-06-11 00:01"], 2, True, None),  # next day
        (["2024-06-10 23:59", "2024-06-11 00:00"], 2, True, None),  # a minute apart, across midnight
        (["2024-06-10 09:00", "2024-06-12 09:00"], 2, False, D(2024, 6, 11)),  # one gap, freeze used
        (["2024-06-10 09:00", "2024-06-13 09:00"], 1, True, None),  # two-day gap: restart, freeze kept
        (["2024-06-10", "2024-06-12", "2024-06-14"], 1, False, D(2024, 6, 11)),  # second gap, freeze spent
    ],
)
def test_streak_rules(
    moments: list[str], streak: int, freeze_available: bool, freeze_used_on: D | None
) -> None:
    who = run("UTC", *moments)
    assert (who.streak_days, who.freeze_available, who.freeze_used_on) == (
        streak,
        freeze_available,
        freeze_used_on,
    )


def test_same_day_returns_the_same_record() -> None:
    first = run("UTC", "2024-06-10 09:00")
    assert g.record_activity(first, at("UTC", "2024-06-10 18:00")) is first


def daily(
    zone: str, first: D, last: D, skip: frozenset[D] = frozenset(), start: Learner | None = None
) -> Learner:
    who = start or learner(time_zone=zone)
    day = first
    while day <= last:
        if day not in skip:
            who = g.record_activity(who, at(zone, f"{day.isoformat()} 12:00"))
        day += dt.timedelta(days=1)
    return who


@pytest.mark.parametrize(
    ("second_miss", "covered"),
    [
        (D(2024, 6, 14), False),  # 3 days after the first use
        (D(2024, 6, 17), False),  # 6 days after: not yet back
        (D(2024, 6, 18), True),  # 7 days after the day it covered: back
        (D(2024, 6, 25), True),
    ],
)
def test_freeze_recharges_seven_days_after_the_day_it_covered(second_miss: D, covered: bool) -> None:
    first_miss = D(2024, 6, 11)
    who = daily(
        "UTC", D(2024, 6, 1), second_miss + dt.timedelta(days=1), skip=frozenset({first_miss, second_miss})
    )
    days_active = (second_miss + dt.timedelta(days=1) - D(2024, 6, 1)).days + 1 - 2
    if covered:
        assert who.streak_days == days_active
        assert who.freeze_used_on == second_miss and not who.freeze_available
    else:
        assert who.streak_days == 1
        assert who.freeze_used_on == first_miss


def test_a_recharged_freeze_shows_as_available_after_the_next_activity() -> None:
    who = daily("UTC", D(2024, 6, 1), D(2024, 6, 20), skip=frozenset({D(2024, 6, 11)}))
    assert who.freeze_available and who.freeze_used_on == D(2024, 6, 11)
    assert who.streak_days == 19


@pytest.mark.parametrize(
    ("zone", "moments", "streak"),
    [
        # Europe/Berlin springs forward on 2024-03-31 (02:00 CET -> 03:00 CEST): a 23-hour day.
        ("Europe/Berlin", ["2024-03-30 23:30", "2024-03-31 00:30"], 2),  # same UTC date, next local day
        ("Europe/Berlin", ["2024-03-31 00:05", "2024-03-31 23:55"], 1),
        ("Europe/Berlin", ["2024-03-31 01:59", "2024-03-31 03:00"], 1),  # a minute apart across the gap
        # ... and falls back on 2024-10-27 (03:00 CEST -> 02:00 CET): a 25-hour day.
        ("Europe/Berlin", ["2024-10-27 00:05", "2024-10-27 23:55"], 1),  # 24 h 50 min apart, same day
        ("Europe/Berlin", ["2024-10-26 23:55", "2024-10-27 00:05"], 2),
        (
            "Europe/Berlin",
            ["2024-10-26 12:00", "2024-10-28 00:30"],
            2,
        ),  # one missed day over a 25-hour day: freeze
        # America/New_York: 2024-03-10 (23-hour day) and 2024-11-03 (25-hour day).
        ("America/New_York", ["2024-03-09 23:30", "2024-03-10 23:30"], 2),  # 23 h apart, next day
        ("America/New_York", ["2024-03-10 00:10", "2024-03-10 23:50"], 1),
        ("America/New_York", ["2024-11-02 23:30", "2024-11-03 23:30"], 2),  # 25 h apart, next day (not a gap)
        ("America/New_York", ["2024-11-03 00:10", "2024-11-03 23:50"], 1),  # 24 h 40 min apart, same day
        # UTC midnight is not local midnight.
        (
            "America/New_York",
            ["2024-06-10 20:00", "2024-06-11 08:00"],
            2,
        ),  # same UTC date (June 11), next local day
        (
            "America/New_York",
            ["2024-06-10 08:00", "2024-06-10 23:00"],
            1,
        ),  # UTC dates June 10 and 11, same local day
        ("Asia/Tokyo", ["2024-06-10 08:00", "2024-06-10 10:00"], 1),  # either side of UTC midnight
        ("Asia/Kolkata", ["2024-06-10 23:59", "2024-06-11 00:00"], 2),  # a half-hour offset
    ],
)
def test_streaks_follow_local_days(zone: str, moments: list[str], streak: int) -> None:
    assert run(zone, *moments).streak_days == streak


def test_the_repeated_hour_at_fall_back_is_one_day() -> None:
    first = g.record_activity(
        learner(time_zone="Europe/Berlin"), at("Europe/Berlin", "2024-10-27 02:30", fold=0)
    )
    again = g.record_activity(
        first, at("Europe/Berlin", "2024-10-27 02:30", fold=1)
    )  # an hour later, same wall time
    assert again is first and first.last_active_day == D(2024, 10, 27)


def test_a_learner_who_moves_west_is_not_counted_twice_nor_negative() -> None:
    tokyo = run("Asia/Tokyo", "2024-06-09 12:00", "2024-06-10 08:00")  # June 10 08:00 JST = June 9 23:00 UTC
    assert (tokyo.streak_days, tokyo.last_active_day) == (2, D(2024, 6, 10))
    la = replace(tokyo, time_zone="America/Los_Angeles")
    for moment in ("2024-06-09 18:00", "2024-06-10 09:00", "2024-06-10 23:00"):  # June 9 and 10 in LA
        la = g.record_activity(la, at("America/Los_Angeles", moment))
        assert (la.streak_days, la.last_active_day) == (2, D(2024, 6, 10))
        assert g.streak_status(la, at("America/Los_Angeles", moment)) == 2
    la = g.record_activity(la, at("America/Los_Angeles", "2024-06-11 07:00"))
    assert la.streak_days == 3


def test_a_learner_who_moves_east_uses_the_new_days() -> None:
    la = run("America/Los_Angeles", "2024-06-10 20:00")  # June 11 03:00 UTC
    tokyo = replace(la, time_zone="Asia/Tokyo")
    tokyo = g.record_activity(tokyo, at("Asia/Tokyo", "2024-06-11 12:30"))  # 30 minutes later: June 11 there
    assert (tokyo.streak_days, tokyo.last_active_day) == (2, D(2024, 6, 11))


def test_an_unknown_zone_follows_utc_days() -> None:
    mars = learner(time_zone="Mars/Olympus_Mons")
    one = g.record_activity(mars, dt.datetime(2024, 6, 10, 23, 59, tzinfo=dt.UTC))
    two = g.record_activity(one, dt.datetime(2024, 6, 11, 0, 1, tzinfo=dt.UTC))
    assert (one.streak_days, two.streak_days, two.last_active_day) == (1, 2, D(2024, 6, 11))


def test_bad_stored_values_never_go_negative() -> None:
    odd = learner(streak_days=-4, last_active_day=D(2024, 6, 9), freeze_available=False)
    assert g.record_activity(odd, NOW).streak_days == 1
    assert g.streak_status(odd, NOW) == 0
    assert g.streak_status(replace(odd, last_active_day=D(2024, 6, 10)), NOW) == 0


# streak_status: what the learner sees before their next activity


@pytest.mark.parametrize(
    ("who", "now_day", "days", "active", "ready", "covering", "back_on"),
    [
        (learner(), D(2024, 6, 10), 0, False, True, None, None),  # never active
        (streaked(5), D(2024, 6, 10), 5, True, True, None, None),  # active today
        (streaked(5), D(2024, 6, 11), 5, False, True, None, None),  # not yet today: still alive
        (
            streaked(5),
            D(2024, 6, 12),
            5,
            False,
            False,
            D(2024, 6, 11),
            D(2024, 6, 18),
        ),  # yesterday missed, freeze covers
        (
            replace(streaked(5), freeze_available=False, freeze_used_on=D(2024, 6, 8)),
            D(2024, 6, 12),
            0,
            False,
            False,
            None,
            D(2024, 6, 15),
        ),
        (
            streaked(5),
            D(2024, 6, 13),
            0,
            False,
            True,
            None,
            None,
        ),  # two days missed: 0 before the next activity
        (
            replace(streaked(5), freeze_available=False, freeze_used_on=D(2024, 6, 1)),
            D(2024, 6, 12),
            5,
            False,
            False,
            D(2024, 6, 11),
            D(2024, 6, 18),
        ),
        (
            replace(streaked(5), freeze_available=False, freeze_used_on=D(2024, 6, 9)),
            D(2024, 6, 10),
            5,
            True,
            False,
            None,
            D(2024, 6, 16),
        ),
        (
            replace(streaked(5), freeze_available=False, freeze_used_on=None),
            D(2024, 6, 10),
            5,
            True,
            False,
            None,
            None,
        ),
    ],
)
def test_streak_details(
    who: Learner, now_day: D, days: int, active: bool, ready: bool, covering: D | None, back_on: D | None
) -> None:
    moment = at("UTC", f"{now_day.isoformat()} 12:00")
    status = g.streak_details(who, moment)
    assert (
        status.days,
        status.active_today,
        status.freeze_ready,
        status.freeze_covering,
        status.freeze_back_on,
    ) == (
        days,
        active,
        ready,
        covering,
        back_on,
    )
    assert g.streak_status(who, moment) == days
    assert g.freeze_ready(who, moment) is ready


def test_streak_status_uses_the_local_day() -> None:
    who = learner(time_zone="America/New_York", streak_days=4, last_active_day=D(2024, 6, 10))
    # 2024-06-13 02:00 UTC is still June 12 in New York: yesterday (June 11) missed, the freeze covers it.
    assert g.streak_status(who, dt.datetime(2024, 6, 13, 2, 0, tzinfo=dt.UTC)) == 4
    # 2024-06-13 05:00 UTC is June 13 there: two days missed.
    assert g.streak_status(who, dt.datetime(2024, 6, 13, 5, 0, tzinfo=dt.UTC)) == 0


# ----------------------------------------------------------------------------------------------
# Properties
# ----------------------------------------------------------------------------------------------

ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "Nowhere/Unknown",
]
START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)

steps = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=4 * 24 * 60),  # minutes since the previous activity
        st.sampled_from(ZONES),  # the learner's zone from then on
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=300)
@given(steps)
def test_streak_is_never_negative_and_never_longer_than_the_days_lived(plan: list[tuple[int, str]]) -> None:
    who = learner()
    moment = START
    first_day: D | None = None
    for minutes, zone in plan:
        moment += dt.timedelta(minutes=minutes)
        who = g.record_activity(replace(who, time_zone=zone), moment)
        first_day = first_day or who.last_active_day
        assert who.streak_days >= 1
        assert who.last_active_day is not None and first_day is not None
        assert who.streak_days <= (who.last_active_day - first_day).days + 1
        assert g.streak_status(who, moment) == who.streak_days
        later = moment + dt.timedelta(minutes=minutes)
        assert g.streak_status(who, later) >= 0


@settings(max_examples=300)
@given(steps, st.integers(min_value=0, max_value=24 * 60 - 1), st.sampled_from(ZONES))
def test_record_activity_is_idempotent_within_a_local_day(
    plan: list[tuple[int, str]], offset: int, zone: str
) -> None:
    who = learner()
    moment = START
    for minutes, step_zone in plan:
        moment += dt.timedelta(minutes=minutes)
        who = g.record_activity(replace(who, time_zone=step_zone), moment)
    who = replace(who, time_zone=zone)
    now = moment + dt.timedelta(days=1)
    once = g.record_activity(who, now)
    # any other moment of the same local day, earlier or later
    tz = g.zone_for(zone)
    local = now.astimezone(tz)
    midnight = dt.datetime.combine(local.date(), dt.time(), tzinfo=tz).astimezone(dt.UTC)
    other = midnight + dt.timedelta(minutes=offset)
    if other.astimezone(tz).date() != local.date():  # a 23-hour day has fewer minutes
        return
    assert g.record_activity(once, other) is once
    assert g.record_activity(once, now) is once
