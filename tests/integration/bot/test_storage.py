"""The progress store's contract, run against every implementation: memory, SQLite and PostgreSQL.

Each test gets an empty store at the current schema (`storage` fixture in conftest.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from fiml_bot.storage.errors import UnknownLearner
from fiml_bot.tutor.model import (
    COMPLETED,
    QUIZ,
    BadgeAward,
    Completion,
    Learner,
    LessonProgress,
    QuizAnswer,
    XpAward,
)
from fiml_bot.tutor.ports import ConcurrentUpdate

UTC = dt.UTC
PARIS = ZoneInfo("Europe/Paris")
T0 = dt.datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def kind_of(request: pytest.FixtureRequest) -> str:
    return request.node.callspec.params["storage"]


def add_learner(storage, learner_id: str = "telegram:1", **fields) -> Learner:
    with storage() as uow:
        saved = uow.progress.save_learner(Learner(id=learner_id, **fields))
        uow.commit()
    return saved


def progress_record(**fields) -> LessonProgress:
    values = {"learner_id": "telegram:1", "lesson_id": "reading_stock_prices", "pinned_version": "1.2.0"}
    values.update(fields)
    return LessonProgress(**values)


def assert_utc(value: dt.datetime | None) -> None:
    assert value is not None and value.tzinfo is UTC


# learners


def test_a_learner_round_trips_with_every_field(storage) -> None:
    learner = Learner(
        id="telegram:123456",
        name="Zoë «trader»",
        time_zone="Europe/Paris",
        active=False,
        streak_days=6,
        last_active_day=dt.date(2026, 2, 28),
        freeze_available=False,
        freeze_used_on=dt.date(2026, 2, 27),
        created_at=T0.astimezone(PARIS),
    )
    with storage() as uow:
        saved = uow.progress.save_learner(learner)
        uow.commit()
    assert saved == dataclasses.replace(learner, revision=1)
    with storage() as uow:
        loaded = uow.progress.learner("telegram:123456")
        assert uow.progress.learner("telegram:999") is None
    assert loaded == saved
    assert_utc(loaded.created_at)
    assert loaded.created_at == T0


def test_a_new_learner_gets_a_creation_time(storage) -> None:
    before = dt.datetime.now(UTC)
    saved = add_learner(storage, "console:local")
    assert_utc(saved.created_at)
    assert before <= saved.created_at <= dt.datetime.now(UTC)
    with storage() as uow:
        assert uow.progress.learner("console:local").created_at == saved.created_at


def test_each_save_raises_the_revision_and_a_stale_save_is_refused(storage) -> None:
    first = add_learner(storage, streak_days=1)
    with storage() as uow:
        second = uow.progress.save_learner(dataclasses.replace(first, streak_days=2))
        third = uow.progress.save_learner(dataclasses.replace(second, streak_days=3))
        uow.commit()
    assert (first.revision, second.revision, third.revision) == (1, 2, 3)
    with storage() as uow, pytest.raises(ConcurrentUpdate):
        uow.progress.save_learner(dataclasses.replace(first, streak_days=99))
    with storage() as uow:
        loaded = uow.progress.learner("telegram:1")
    assert (loaded.streak_days, loaded.revision) == (3, 3)
    assert loaded.created_at == first.created_at  # an update without created_at keeps it


def test_inserting_an_existing_learner_or_updating_a_missing_one_is_a_concurrent_update(storage) -> None:
    add_learner(storage)
    with storage() as uow, pytest.raises(ConcurrentUpdate):
        uow.progress.save_learner(Learner(id="telegram:1"))
    with storage() as uow, pytest.raises(ConcurrentUpdate):
        uow.progress.save_learner(Learner(id="telegram:2", revision=4))


def test_learner_ids_are_sorted(storage) -> None:
    for learner_id in ["telegram:2", "console:local", "telegram:10"]:
        add_learner(storage, learner_id)
    with storage() as uow:
        assert uow.progress.learner_ids() == ["console:local", "telegram:10", "telegram:2"]


def test_a_naive_datetime_is_refused(storage) -> None:
    with storage() as uow, pytest.raises(ValueError, match="naive"):
        uow.progress.save_learner(Learner(id="telegram:1", created_at=dt.datetime(2026, 1, 1)))


# lesson progress


def test_progress_round_trips_with_lists_and_aware_utc_timestamps(storage) -> None:
    add_learner(storage)
    progress = progress_record(
        status=QUIZ,
        current_section="spread",
        sections_done=("intro", "bid_ask", "spread"),
        answers=(
            QuizAnswer("q1", "2", True, "1.2.0"),
            QuizAnswer("q2", "false", False, "1.1.0"),
            QuizAnswer("q3", "12.5", True, "1.2.0"),
        ),
        attempt=2,
        started_at=at(0).astimezone(PARIS),
        updated_at=at(5).astimezone(ZoneInfo("America/New_York")),
        completed_version="1.1.0",
        completed_at=at(-60),
        seen_version="1.2.0",
        pending_choice="2.0.0",
    )
    with storage() as uow:
        saved = uow.progress.save_progress(progress)
        uow.commit()
    assert saved == dataclasses.replace(progress, revision=1)
    with storage() as uow:
        loaded = uow.progress.progress("telegram:1", "reading_stock_prices")
        assert uow.progress.progress("telegram:1", "other") is None
        assert uow.progress.progress("telegram:2", "reading_stock_prices") is None
    assert loaded == saved
    assert loaded.sections_done == ("intro", "bid_ask", "spread")
    assert loaded.answers[1] == QuizAnswer("q2", "false", False, "1.1.0")
    for timestamp in (loaded.started_at, loaded.updated_at, loaded.completed_at):
        assert_utc(timestamp)
    assert loaded.started_at == at(0)


def test_progress_with_empty_and_null_fields_round_trips(storage) -> None:
    add_learner(storage)
    progress = progress_record()
    with storage() as uow:
        uow.progress.save_progress(progress)
        uow.commit()
    with storage() as uow:
        assert uow.progress.progress("telegram:1", "reading_stock_prices") == dataclasses.replace(
            progress, revision=1
        )


def test_all_progress_is_the_learners_own_sorted_by_lesson(storage) -> None:
    add_learner(storage)
    add_learner(storage, "telegram:2")
    with storage() as uow:
        for lesson_id in ["b_lesson", "a_lesson"]:
            uow.progress.save_progress(progress_record(lesson_id=lesson_id))
        uow.progress.save_progress(progress_record(learner_id="telegram:2", lesson_id="c_lesson"))
        uow.commit()
    with storage() as uow:
        assert [p.lesson_id for p in uow.progress.all_progress("telegram:1")] == ["a_lesson", "b_lesson"]
        assert uow.progress.all_progress("telegram:3") == []


def test_a_stale_progress_save_is_refused_and_changes_nothing(storage) -> None:
    add_learner(storage)
    with storage() as uow:
        first = uow.progress.save_progress(progress_record())
        uow.commit()
    with storage() as uow:
        uow.progress.save_progress(dataclasses.replace(first, current_section="a"))
        uow.commit()
    with storage() as uow, pytest.raises(ConcurrentUpdate):
        uow.progress.save_progress(dataclasses.replace(first, current_section="b"))
        with pytest.raises(ConcurrentUpdate):
            uow.progress.save_progress(progress_record())  # a second "first save"
    with storage() as uow:
        loaded = uow.progress.progress("telegram:1", "reading_stock_prices")
    assert (loaded.current_section, loaded.revision) == ("a", 2)


def test_progress_of_an_unsaved_learner_is_refused(storage) -> None:
    with storage() as uow, pytest.raises(UnknownLearner):
        uow.progress.save_progress(progress_record(learner_id="telegram:404"))


# the XP ledger


def test_an_xp_key_pays_once_and_the_transaction_goes_on(storage) -> None:
    add_learner(storage)
    award = XpAward(
        "telegram:1",
        50,
        "lesson completed",
        "complete:reading_stock_prices@1.2.0#1",
        lesson_id="reading_stock_prices",
        version="1.2.0",
        awarded_at=at(1).astimezone(PARIS),
    )
    with storage() as uow:
        assert uow.progress.award_xp(award) is True
        assert uow.progress.award_xp(dataclasses.replace(award, amount=500)) is False
        # the transaction is still usable after the refused duplicate
        uow.progress.save_progress(progress_record(status=COMPLETED))
        assert uow.progress.award_xp(XpAward("telegram:1", 10, "correct answer", "answer:q1")) is True
        uow.commit()
    with storage() as uow:
        assert uow.progress.award_xp(award) is False  # also in a later transaction
        assert uow.progress.xp_total("telegram:1") == 60
        awards = uow.progress.xp_awards("telegram:1")
        assert uow.progress.progress("telegram:1", "reading_stock_prices").status == COMPLETED
    assert awards[0] == award
    assert_utc(awards[0].awarded_at)
    assert (awards[1].key, awards[1].lesson_id, awards[1].version) == ("answer:q1", None, None)
    assert_utc(awards[1].awarded_at)


def test_xp_keys_are_per_learner(storage) -> None:
    add_learner(storage)
    add_learner(storage, "telegram:2")
    with storage() as uow:
        assert uow.progress.award_xp(XpAward("telegram:1", 5, "streak", "streak:2026-03-01"))
        assert uow.progress.award_xp(XpAward("telegram:2", 7, "streak", "streak:2026-03-01"))
        uow.commit()
    with storage() as uow:
        assert uow.progress.xp_total("telegram:1") == 5
        assert uow.progress.xp_total("telegram:2") == 7
        assert uow.progress.xp_total("telegram:3") == 0
        assert uow.progress.xp_awards("telegram:3") == []


def test_xp_is_never_taken_away_nor_paid_to_an_unsaved_learner(storage) -> None:
    add_learner(storage)
    with storage() as uow, pytest.raises(ValueError, match="never taken away"):
        uow.progress.award_xp(XpAward("telegram:1", -5, "correction", "fix:1"))
    with storage() as uow, pytest.raises(UnknownLearner):
        uow.progress.award_xp(XpAward("telegram:404", 5, "lesson", "k"))


# completions, badges, processed events


def test_completions_round_trip_in_order_and_by_lesson(storage) -> None:
    add_learner(storage)
    late = Completion("telegram:1", "lesson_a", "1.0.0", 1, 3, 4, 40, at(30).astimezone(PARIS))
    early = Completion("telegram:1", "lesson_b", "2.1.0", 2, 4, 4, 60, at(10))
    with storage() as uow:
        uow.progress.add_completion(late)
        uow.progress.add_completion(early)
        uow.commit()
    with storage() as uow:
        everything = uow.progress.completions("telegram:1")
        only_a = uow.progress.completions("telegram:1", "lesson_a")
        assert uow.progress.completions("telegram:2") == []
    assert everything == [early, late]
    assert only_a == [late]
    assert_utc(only_a[0].completed_at)
    with storage() as uow, pytest.raises(UnknownLearner):
        uow.progress.add_completion(dataclasses.replace(early, learner_id="telegram:404"))


def test_a_badge_is_awarded_once(storage) -> None:
    add_learner(storage)
    with storage() as uow:
        assert uow.progress.award_badge(BadgeAward("telegram:1", "first_lesson", at(2)))
        assert not uow.progress.award_badge(BadgeAward("telegram:1", "first_lesson", at(3)))
        assert uow.progress.award_badge(BadgeAward("telegram:1", "perfect_quiz", at(1).astimezone(PARIS)))
        uow.commit()
    with storage() as uow:
        assert not uow.progress.award_badge(BadgeAward("telegram:1", "first_lesson", at(4)))
        badges = uow.progress.badges("telegram:1")
        assert uow.progress.badges("telegram:2") == []
    assert badges == [
        BadgeAward("telegram:1", "perfect_quiz", at(1)),
        BadgeAward("telegram:1", "first_lesson", at(2)),
    ]
    assert_utc(badges[0].awarded_at)


def test_an_event_is_processed_once(storage) -> None:
    with storage() as uow:
        assert uow.progress.mark_processed("telegram:update:1001")
        assert not uow.progress.mark_processed("telegram:update:1001")
        assert uow.progress.mark_processed("telegram:update:1002")
        uow.commit()
    with storage() as uow:
        assert not uow.progress.mark_processed("telegram:update:1001")
        assert uow.progress.mark_processed("telegram:update:1003")
    with storage() as uow:  # the last one was rolled back
        assert uow.progress.mark_processed("telegram:update:1003")


# transactions


def test_leaving_without_commit_or_rolling_back_discards_everything(storage) -> None:
    with storage() as uow:
        uow.progress.save_learner(Learner(id="telegram:1"))
        uow.progress.award_xp(XpAward("telegram:1", 5, "x", "k"))
        uow.progress.mark_processed("event:1")
    with pytest.raises(RuntimeError), storage() as uow:
        uow.progress.save_learner(Learner(id="telegram:2"))
        raise RuntimeError("the action failed")
    with storage() as uow:
        uow.progress.save_learner(Learner(id="telegram:3"))
        uow.progress.mark_processed("event:3")
        uow.rollback()
        uow.progress.save_learner(Learner(id="telegram:4"))  # a new transaction after the rollback
        uow.commit()
    with storage() as uow:
        assert uow.progress.learner_ids() == ["telegram:4"]
        assert uow.progress.xp_total("telegram:1") == 0
        assert uow.progress.mark_processed("event:1")
        assert uow.progress.mark_processed("event:3")


def test_a_unit_of_work_goes_on_after_a_commit(storage) -> None:
    with storage() as uow:
        learner = uow.progress.save_learner(Learner(id="telegram:1"))
        uow.commit()
        uow.progress.save_learner(dataclasses.replace(learner, name="second transaction"))
        uow.commit()
        uow.progress.save_learner(Learner(id="telegram:2"))  # not committed
    with storage() as uow:
        assert uow.progress.learner("telegram:1").name == "second transaction"
        assert uow.progress.learner("telegram:2") is None


# Not on SQLite: its transactions begin IMMEDIATE, so a second one waits for the first to end.
@pytest.mark.parametrize("storage", ["memory", "postgres"], indirect=True)
def test_changes_are_invisible_to_others_until_commit(storage) -> None:
    add_learner(storage)
    with storage() as writer, storage() as reader:
        writer.progress.award_xp(XpAward("telegram:1", 5, "x", "k"))
        writer.progress.save_learner(Learner(id="telegram:2"))
        assert reader.progress.xp_total("telegram:1") == 0
        assert reader.progress.learner("telegram:2") is None
        writer.commit()
    with storage() as reader:
        assert reader.progress.xp_total("telegram:1") == 5
        assert reader.progress.learner("telegram:2") is not None


@pytest.mark.parametrize("storage", ["memory", "postgres"], indirect=True)  # not SQLite: as above
def test_a_learner_created_meanwhile_is_read_whole_and_saved(storage) -> None:
    with storage() as first:
        assert first.progress.learner("telegram:2") is None
        with storage() as other:
            other.progress.save_learner(Learner(id="telegram:2"))
            other.progress.award_xp(XpAward("telegram:2", 5, "x", "k"))
            other.commit()
        learner = first.progress.learner("telegram:2")
        assert learner is not None
        first.progress.save_learner(dataclasses.replace(learner, name="renamed"))
        assert first.progress.xp_total("telegram:2") == 5
        first.commit()
    with storage() as uow:
        assert uow.progress.learner("telegram:2").name == "renamed"


# renamed lessons


def test_rename_moves_progress_and_completions(storage) -> None:
    add_learner(storage)
    add_learner(storage, "telegram:2")
    with storage() as uow:
        uow.progress.save_progress(
            progress_record(lesson_id="old_id", current_section="s2", updated_at=at(1))
        )
        uow.progress.save_progress(progress_record(learner_id="telegram:2", lesson_id="old_id"))
        uow.progress.add_completion(Completion("telegram:1", "old_id", "1.0.0", 1, 2, 2, 30, at(0)))
        uow.progress.rename_lesson("telegram:1", "old_id", "new_id")
        uow.commit()
    with storage() as uow:
        assert uow.progress.progress("telegram:1", "old_id") is None
        moved = uow.progress.progress("telegram:1", "new_id")
        assert [c.lesson_id for c in uow.progress.completions("telegram:1")] == ["new_id"]
        assert uow.progress.progress("telegram:2", "old_id") is not None  # another learner's: untouched
    assert (moved.lesson_id, moved.current_section, moved.updated_at) == ("new_id", "s2", at(1))
    assert moved.revision == 2


def test_rename_onto_existing_progress_keeps_the_newer_and_every_completion(storage) -> None:
    add_learner(storage)
    with storage() as uow:
        uow.progress.save_progress(
            progress_record(lesson_id="old_a", current_section="newer", updated_at=at(9))
        )
        uow.progress.save_progress(
            progress_record(lesson_id="new_a", current_section="older", updated_at=at(1))
        )
        uow.progress.save_progress(
            progress_record(lesson_id="old_b", current_section="older", updated_at=at(1))
        )
        uow.progress.save_progress(
            progress_record(lesson_id="new_b", current_section="newer", updated_at=at(9))
        )
        for lesson_id in ["old_a", "new_a", "old_b"]:
            uow.progress.add_completion(Completion("telegram:1", lesson_id, "1.0.0", 1, 1, 1, 10, at(0)))
        uow.commit()
    with storage() as uow:
        uow.progress.rename_lesson("telegram:1", "old_a", "new_a")
        uow.progress.rename_lesson("telegram:1", "old_b", "new_b")
        uow.progress.rename_lesson("telegram:1", "never_started", "new_c")
        uow.commit()
    with storage() as uow:
        remaining = {p.lesson_id: p for p in uow.progress.all_progress("telegram:1")}
        completions = uow.progress.completions("telegram:1")
    assert sorted(remaining) == ["new_a", "new_b"]
    assert remaining["new_a"].current_section == "newer"
    assert remaining["new_a"].revision == 2
    assert remaining["new_b"].current_section == "newer"
    assert remaining["new_b"].revision == 1
    assert sorted(c.lesson_id for c in completions) == ["new_a", "new_a", "new_b"]


def test_a_save_under_the_old_id_after_a_rename_is_a_concurrent_update(storage) -> None:
    add_learner(storage)
    with storage() as uow:
        before = uow.progress.save_progress(progress_record(lesson_id="old_id"))
        uow.commit()
    with storage() as uow:
        uow.progress.rename_lesson("telegram:1", "old_id", "new_id")
        uow.commit()
    with storage() as uow, pytest.raises(ConcurrentUpdate):
        uow.progress.save_progress(dataclasses.replace(before, current_section="x"))


def test_reads_within_a_transaction_follow_its_own_saves_and_renames(storage) -> None:
    """Progress read once per action is remembered: the action's own saves and renames keep it current."""
    add_learner(storage)
    with storage() as uow:
        uow.progress.save_progress(progress_record(lesson_id="a"))
        uow.progress.save_progress(progress_record(lesson_id="old_id"))
        uow.commit()
    with storage() as uow:
        assert [p.lesson_id for p in uow.progress.all_progress("telegram:1")] == ["a", "old_id"]
        saved = uow.progress.save_progress(
            dataclasses.replace(uow.progress.progress("telegram:1", "a"), current_section="s2")
        )
        assert uow.progress.progress("telegram:1", "a") == saved
        uow.progress.save_progress(progress_record(lesson_id="b"))
        assert [p.lesson_id for p in uow.progress.all_progress("telegram:1")] == ["a", "b", "old_id"]
        uow.progress.rename_lesson("telegram:1", "old_id", "new_id")
        assert uow.progress.progress("telegram:1", "old_id") is None
        assert [p.lesson_id for p in uow.progress.all_progress("telegram:1")] == ["a", "b", "new_id"]
        uow.commit()
        assert uow.progress.progress("telegram:1", "a").revision == 2


def test_after_a_commit_a_unit_of_work_sees_what_others_committed(storage) -> None:
    add_learner(storage)
    with storage() as uow:
        uow.progress.save_progress(progress_record(lesson_id="a"))
        uow.commit()
    with storage() as mine:
        assert mine.progress.all_progress("telegram:1")[0].revision == 1
        mine.commit()
        with storage() as other:
            current = other.progress.progress("telegram:1", "a")
            other.progress.save_progress(dataclasses.replace(current, current_section="theirs"))
            other.commit()
        assert mine.progress.progress("telegram:1", "a").current_section == "theirs"
        assert [p.revision for p in mine.progress.all_progress("telegram:1")] == [2]
