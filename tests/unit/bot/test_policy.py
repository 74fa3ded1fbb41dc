"""SPEC §5, one test per row of the policy table, plus the boundaries and position mapping."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from fiml_bot.tutor.policy import Action, PolicySettings, decide, map_position
from fiml_cms.lesson import Lesson
from testing.repo import PROJECT

SOURCE = PROJECT / "content/lessons/reading_stock_prices.yaml"


def row(pinned: str, latest: str, **kw):
    kw.setdefault("pinned_available", True)
    kw.setdefault("pinned_yanked", False)
    return decide(pinned, latest, **kw)


def test_same_version_does_nothing() -> None:
    assert row("1.2.0", "1.2.0").action is Action.NONE


def test_patch_newer_auto_migrates_silently() -> None:
    decision = row("1.2.0", "1.2.3")
    assert (decision.action, decision.target) == (Action.AUTO_MIGRATE, "1.2.3")


def test_one_minor_step_auto_migrates_silently() -> None:
    assert row("1.0.0", "1.1.0").action is Action.AUTO_MIGRATE
    assert row("1.0.4", "1.1.2").action is Action.AUTO_MIGRATE  # patch levels do not count as steps


def test_two_or_more_minor_steps_migrate_and_notify() -> None:
    assert row("1.0.0", "1.2.0").action is Action.AUTO_MIGRATE_NOTIFY
    assert row("1.0.0", "1.5.0").action is Action.AUTO_MIGRATE_NOTIFY


def test_major_newer_offers_a_choice() -> None:
    decision = row("1.4.0", "2.0.0")
    assert (decision.action, decision.target) == (Action.CHOICE, "2.0.0")
    assert row("1.0.0", "3.1.0").action is Action.CHOICE


def test_a_declined_major_is_not_offered_again() -> None:
    assert row("1.4.0", "2.0.0", declined=True).action is Action.NONE


def test_yanked_pinned_version_forces_a_restart() -> None:
    decision = row("1.1.0", "1.1.1", pinned_yanked=True)
    assert decision.action is Action.FORCED_RESTART and "withdrawn" in decision.reason
    assert row("1.1.0", "1.1.0", pinned_yanked=True).action is Action.FORCED_RESTART


def test_unresolvable_pinned_version_forces_a_restart() -> None:
    decision = row("1.1.0", "1.3.0", pinned_available=False)
    assert decision.action is Action.FORCED_RESTART and "no longer available" in decision.reason


def test_thresholds_are_settings() -> None:
    three = PolicySettings(notify_minor_steps=3)
    assert row("1.0.0", "1.2.0", settings=three).action is Action.AUTO_MIGRATE
    assert row("1.0.0", "1.3.0", settings=three).action is Action.AUTO_MIGRATE_NOTIFY
    no_choice = PolicySettings(choice_on_major=False)
    assert row("1.0.0", "2.0.0", settings=no_choice).action is Action.FORCED_RESTART
    with pytest.raises(ValueError):
        PolicySettings(notify_minor_steps=0)


def test_semver_order_not_text_order() -> None:
    assert row("1.9.0", "1.10.0").action is Action.AUTO_MIGRATE
    assert row("1.10.0", "1.9.0").action is Action.NONE  # never "migrate" backwards
    assert row("2.0.0-rc.1", "2.0.0").action is Action.AUTO_MIGRATE


def lesson(section_ids: list[str]) -> Lesson:
    data = YAML(typ="safe").load(SOURCE.read_text(encoding="utf-8"))
    data["changelog"] = [{**c, "date": str(c["date"])} for c in data["changelog"]]
    template = data["sections"][0]
    data["sections"] = [dict(copy.deepcopy(template), id=i) for i in section_ids]
    return Lesson.from_dict(data)


@pytest.mark.parametrize(
    "old,new,current,done,expected_current,expected_done",
    [
        (["a", "b", "c"], ["a", "b", "c", "d"], "b", ("a",), "b", ("a",)),  # current kept
        (["a", "b", "c"], ["a", "c"], "b", ("a",), "c", ("a",)),  # current gone: the next existing one
        (["a", "b", "c"], ["x", "a"], "b", ("a",), "x", ("a",)),  # nothing after it survives: first not done
        (["a", "b", "c"], ["b", "c"], "c", ("a", "b"), "c", ("b",)),  # a removed done section is dropped
        (["a", "b"], ["a", "b"], None, ("a", "b"), None, ("a", "b")),  # in the quiz: stays there
        (["a", "b", "c"], ["a", "b2", "c2"], "b", ("a",), "b2", ("a",)),  # all following renamed
    ],
)
def test_position_is_mapped_by_section_id(old, new, current, done, expected_current, expected_done) -> None:
    position = map_position(lesson(old), lesson(new), current, done)
    assert (position.current_section, position.sections_done) == (expected_current, expected_done)
