"""The tutor end to end on a real content repository (git tags) and the in-memory progress store."""

from __future__ import annotations

from pathlib import Path

import pytest

from fiml_bot.tutor import gamification
from fiml_bot.tutor.events import Command, ListLessons, Pressed, Progress, SetTimeZone, Start, Text
from fiml_bot.tutor.ports import StorageUnavailable
from fiml_cms.document import parse_lesson
from testing.cli import cli
from testing.repo import commit_all, replace_in
from testing.tutor_driver import (
    Learner,
    learner_mid_lesson,
    ledger_of,
    lesson_file,
    make_tutor,
    progress_of,
    release,
    xp_of,
)

MARKET = "what_is_a_market"


@pytest.fixture
def repo(published: Path) -> Path:
    """Every bundled lesson published at 1.0.0 (the session's template, copied)."""
    return published


# -- a whole lesson ---------------------------------------------------------------------------
def test_a_whole_lesson_and_quiz(repo: Path) -> None:
    tutor, content = make_tutor(repo)
    ada = Learner(tutor)
    assert "Welcome, Ada" in ada.send(Start())[0].text
    ada.send(ListLessons())
    assert "📘 What Is a Market?" in ada.text and "🔒 Reading a Stock Quote" in ada.text
    ada.press("What Is a Market?")
    assert "· 1/5" in ada.text
    ada.read_to_quiz()
    lesson = content.latest(MARKET)
    for _ in lesson.quiz.questions:
        ada.answer_current(correct=True)
        assert "✅ Correct!" in ada.text
    expected = lesson.xp_reward + sum(q.xp for q in lesson.quiz.questions)
    assert "Lesson complete" in ada.text and f"⭐ {expected} XP" in ada.text
    assert "First Steps" in ada.text and "Perfect Score" in ada.text
    assert xp_of(tutor, ada.id) == expected
    assert progress_of(tutor, ada.id, MARKET).status == "completed"
    ada.send(ListLessons())
    assert "✅ What Is a Market?" in ada.text and "📘 Reading a Stock Quote" in ada.text
    ada.send(Progress())
    assert f"{expected} XP" in ada.text and "1 lesson completed" in ada.text and "streak: 1 day" in ada.text


def test_failing_the_quiz_offers_a_retry_and_keeps_answer_xp(repo: Path) -> None:
    tutor, content = make_tutor(repo)
    ada = Learner(tutor)
    ada.send(ListLessons())
    ada.press("What Is a Market?")
    ada.read_to_quiz()
    ada.answer_current(correct=True)
    for _ in content.latest(MARKET).quiz.questions[1:]:
        ada.answer_current(correct=False)
    assert "You scored 1/5" in ada.text
    earned = xp_of(tutor, ada.id)
    assert earned == content.latest(MARKET).quiz.questions[0].xp
    ada.press("Try again")
    assert "· 1/5" in ada.text and progress_of(tutor, ada.id, MARKET).attempt == 2
    ada.read_to_quiz()
    for _ in content.latest(MARKET).quiz.questions:
        ada.answer_current(correct=True)
    lesson = content.latest(MARKET)
    assert xp_of(tutor, ada.id) == lesson.xp_reward + sum(q.xp for q in lesson.quiz.questions)  # q1 paid once


# -- taps, stale and forged buttons ---------------------------------------------------------
def test_a_double_tap_pays_once(repo: Path) -> None:
    tutor, content, ada = learner_mid_lesson(repo, steps=0)
    ada.read_to_quiz()
    lesson = content.latest(MARKET)
    question = lesson.quiz.questions[0]
    tap = ada.button(f"{question.answer + 1}. ").data
    ada.send(Pressed(tap))
    ada.send(Pressed(tap))
    assert "already answered" in ada.text
    assert xp_of(tutor, ada.id) == question.xp
    assert len(progress_of(tutor, ada.id, MARKET).answers) == 1


def test_a_replayed_update_is_applied_once(repo: Path) -> None:
    tutor, _, ada = learner_mid_lesson(repo, steps=0)
    data = ada.button("Next").data
    assert ada.send(Pressed(data), key="update:1")
    assert ada.send(Pressed(data), key="update:1") == []
    assert progress_of(tutor, ada.id, MARKET).current_section == "exchanges"


def test_a_stale_next_button_does_not_skip_ahead(repo: Path) -> None:
    tutor, _, ada = learner_mid_lesson(repo, steps=0)
    first = ada.button("Next").data
    ada.press("Next")
    ada.press("Next")
    where = progress_of(tutor, ada.id, MARKET).current_section
    ada.send(Pressed(first))
    assert "earlier message" in ada.text and "· 3/5" in ada.text
    assert progress_of(tutor, ada.id, MARKET).current_section == where


@pytest.mark.parametrize(
    "data", ["x|y", "o|nope_lesson", "a|what_is_a_market|1.0.0|qq|0", "n|" + "z" * 70, "", "l|abc|"]
)
def test_forged_buttons_are_handled(repo: Path, data: str) -> None:
    tutor, _ = make_tutor(repo)
    ada = Learner(tutor)
    ada.send(Pressed(data))
    assert ada.text  # a clear message, never an exception
    assert xp_of(tutor, ada.id) == 0


@pytest.mark.parametrize("data", ["l|abc|", "l|²|", "l|-1|"])
def test_a_list_button_whose_page_is_not_a_number_lists_the_first_page(repo: Path, data: str) -> None:
    tutor, _ = make_tutor(repo)
    ada = Learner(tutor)
    ada.send(Pressed(data))
    assert "**Lessons** (page 1 of" in ada.text


def test_prerequisites_are_enforced_with_a_way_forward(repo: Path) -> None:
    tutor, _ = make_tutor(repo)
    ada = Learner(tutor)
    ada.send(ListLessons())
    ada.press("Reading a Stock Quote")
    assert "builds on “What Is a Market?”" in ada.text
    ada.press("What Is a Market?")
    assert "· 1/5" in ada.text


def test_commands_and_text(repo: Path) -> None:
    tutor, _ = make_tutor(repo)
    ada = Learner(tutor)
    assert "don't know the command /dance" in ada.send(Command("dance"))[0].text
    assert "didn't understand" in ada.send(Text("hello"))[0].text
    assert "don't know the time zone" in ada.send(SetTimeZone("Mars/Olympus"))[0].text
    assert "Time zone set to Europe/Berlin" in ada.send(SetTimeZone("Europe/Berlin"))[0].text


def test_lessons_are_paged_without_a_cap(repo: Path) -> None:
    tutor, _ = make_tutor(repo)
    ada = Learner(tutor)
    ada.send(ListLessons())
    assert "page 1 of 2" in ada.text
    ada.press("Next ▶")
    assert "page 2 of 2" in ada.text and "More lessons" in ada.text
    listed = len(ada.last[0].all_buttons) - 1 + 8
    assert listed == len(list((repo / "content/lessons").glob("*.yaml")))


def test_storage_down_is_a_clear_message() -> None:
    class Down:
        def __call__(self):
            raise StorageUnavailable("database is locked")

    from fiml_bot.tutor.engine import STORAGE_DOWN, Tutor

    tutor = Tutor(content=None, unit_of_work=Down())  # type: ignore[arg-type]
    assert tutor.handle("x", Start())[0].text == STORAGE_DOWN


# -- the version policy, each row end to end -------------------------------------------------
def test_patch_release_migrates_silently(repo: Path) -> None:
    tutor, content, ada = learner_mid_lesson(repo, steps=1)
    release(
        repo,
        MARKET,
        "patch",
        "Clearer wording",
        ("An **exchange** is an organised marketplace", "An **exchange** is an organized marketplace"),
    )
    content.refresh()
    ada.press("Next")
    progress = progress_of(tutor, ada.id, MARKET)
    assert progress.pinned_version == "1.0.1" and progress.current_section == "participants"
    assert "Updated" not in ada.text and "earlier message" not in ada.text


def test_one_minor_step_migrates_silently_and_maps_the_position(repo: Path) -> None:
    tutor, content, ada = learner_mid_lesson(repo, steps=1)
    release(
        repo,
        MARKET,
        "minor",
        "A section on auctions",
        (
            "  - id: participants\n",
            "  - id: auctions\n    type: text\n    body: Opening and closing auctions.\n  - id: participants\n",
        ),
    )
    content.refresh()
    ada.press("Next")
    progress = progress_of(tutor, ada.id, MARKET)
    assert progress.pinned_version == "1.1.0" and progress.current_section == "auctions"
    assert progress.sections_done == ("intro", "exchanges")
    assert "Updated" not in ada.text


def test_two_minor_steps_migrate_with_a_notice(repo: Path) -> None:
    tutor, content, ada = learner_mid_lesson(repo, steps=1)
    release(
        repo,
        MARKET,
        "minor",
        "A section on auctions",
        (
            "  - id: participants\n",
            "  - id: auctions\n    type: text\n    body: Opening and closing auctions.\n  - id: participants\n",
        ),
    )
    release(repo, MARKET, "minor", "A fresh chart example", ("ends near $560", "ends near $590"))
    content.refresh()
    ada.press("Next")
    assert progress_of(tutor, ada.id, MARKET).pinned_version == "1.2.0"
    assert (
        "Updated" in ada.text and "A section on auctions" in ada.text and "A fresh chart example" in ada.text
    )


def test_major_release_offers_a_choice_and_both_branches_work(repo: Path) -> None:
    tutor, content, ada = learner_mid_lesson(repo, steps=1)
    before = xp_of(tutor, ada.id)
    release(repo, MARKET, "major", "Rewritten", ("  - id: exchanges\n", "  - id: venues\n"))
    content.refresh()
    ada.press("Next")
    assert "new edition" in ada.text
    assert progress_of(tutor, ada.id, MARKET).pinned_version == "1.0.0"
    choice = ada.last
    ada.press("Continue my version")
    assert progress_of(tutor, ada.id, MARKET).pinned_version == "1.0.0"
    ada.press("Next")
    assert "new edition" not in ada.text  # not asked again for the same version
    ada.last = choice
    ada.press("Restart on the new one")
    assert "earlier message" in ada.text  # Ada already chose: a stale choice is refused
    tutor2, _content2, cy = learner_mid_lesson(repo, steps=0)
    cy.press("Next")  # pinned 2.0.0 from the start
    assert progress_of(tutor2, cy.id, MARKET).pinned_version == "2.0.0"
    assert xp_of(tutor, ada.id) == before


def test_major_restart_branch(repo: Path) -> None:
    tutor, content, ada = learner_mid_lesson(repo, steps=2)
    release(repo, MARKET, "major", "Rewritten", ("  - id: exchanges\n", "  - id: venues\n"))
    content.refresh()
    ada.press("Next")
    ada.press("Restart on the new one")
    progress = progress_of(tutor, ada.id, MARKET)
    assert (progress.pinned_version, progress.current_section, progress.sections_done) == (
        "2.0.0",
        "intro",
        (),
    )
    assert "· 1/5" in ada.text


def test_yanked_version_forces_a_restart(repo: Path) -> None:
    tutor, content, ada = learner_mid_lesson(repo, steps=2)
    release(repo, MARKET, "patch", "Wrong figure", ("ends near $560", "ends near $5600"))
    content.refresh()
    ada.press("Next")
    assert progress_of(tutor, ada.id, MARKET).pinned_version == "1.0.1"
    replace_in(lesson_file(repo), "ends near $5600", "ends near $560")
    assert cli("bump", MARKET, "minor", "-m", "Fixed the figure; 1.0.1 withdrawn").exit_code == 0
    replace_in(lesson_file(repo), "retired: false\n", 'retired: false\nyanked: ["1.0.1"]\n')
    commit_all(repo, "fix and yank")
    assert cli("tag", MARKET).exit_code == 0
    content.refresh()
    ada.press("Next")
    progress = progress_of(tutor, ada.id, MARKET)
    assert "withdrawn" in ada.text and "XP and completions are kept" in ada.text
    assert (progress.pinned_version, progress.current_section) == ("1.1.0", "intro")


def test_grading_uses_the_version_the_question_was_asked_under(repo: Path) -> None:
    tutor, content, ada = learner_mid_lesson(repo, steps=0)
    ada.read_to_quiz()
    question = content.latest(MARKET).quiz.questions[0]
    old_right = ada.button(f"{question.answer + 1}. ").data
    new_answer = (question.answer + 1) % len(question.options)
    text = lesson_file(repo).read_text(encoding="utf-8")
    marker = f"      answer: {question.answer}\n"
    assert marker in text
    release(repo, MARKET, "minor", "Changed the answer", (marker, f"      answer: {new_answer}\n"))
    content.refresh()
    ada.send(Pressed(old_right))
    assert "✅ Correct!" in ada.text  # grandfathered: right under 1.0.0
    assert progress_of(tutor, ada.id, MARKET).answers[0].version == "1.0.0"


def test_retired_lessons_take_no_new_starts_but_pinned_learners_finish(repo: Path) -> None:
    tutor, content, ada = learner_mid_lesson(repo, steps=1)
    release(repo, MARKET, "minor", "Retired", ("retired: false", "retired: true"))
    content.refresh()
    ada.press("Next")
    assert progress_of(tutor, ada.id, MARKET).status == "in_progress"
    bob = Learner(tutor, "test:2")
    bob.send(ListLessons())
    assert "What Is a Market?" not in bob.text
    bob.send(Pressed("o|what_is_a_market"))
    assert "retired" in bob.text


def completed(repo: Path):
    tutor, content, ada = learner_mid_lesson(repo, steps=0)
    ada.read_to_quiz()
    for _ in content.latest(MARKET).quiz.questions:
        ada.answer_current(correct=True)
    return tutor, content, ada


def test_completed_lessons_show_updates_and_can_be_retaken(repo: Path) -> None:
    tutor, content, ada = completed(repo)
    xp = xp_of(tutor, ada.id)
    release(repo, MARKET, "minor", "New example", ("ends near $560", "ends near $570"))
    content.refresh()
    ada.send(ListLessons())
    assert "🔄 What Is a Market?" in ada.text
    ada.press("What Is a Market?")
    assert "Updated since then: version 1.1.0" in ada.text
    ada.press("View updates")
    assert "New example" in ada.text
    ada.send(ListLessons())
    assert "✅ What Is a Market?" in ada.text
    ada.press("What Is a Market?")
    ada.press("Retake")
    assert progress_of(tutor, ada.id, MARKET).pinned_version == "1.1.0"
    ada.read_to_quiz()
    for _ in content.latest(MARKET).quiz.questions:
        ada.answer_current(correct=True)
    assert xp_of(tutor, ada.id) == xp  # a retake pays nothing twice, and takes nothing away
    with tutor.unit_of_work() as uow:
        assert len(uow.progress.completions(ada.id, MARKET)) == 2


def test_raised_xp_reward_is_credited_once(repo: Path) -> None:
    tutor, content, ada = completed(repo)
    xp = xp_of(tutor, ada.id)
    reward = content.latest(MARKET).xp_reward
    release(repo, MARKET, "minor", "More XP", (f"xp_reward: {reward}", f"xp_reward: {reward + 30}"))
    content.refresh()
    ada.send(Progress())
    assert "+30 XP" in ada.text and xp_of(tutor, ada.id) == xp + 30
    ada.send(Progress())
    assert xp_of(tutor, ada.id) == xp + 30
    release(repo, MARKET, "minor", "Less XP", (f"xp_reward: {reward + 30}", f"xp_reward: {reward}"))
    content.refresh()
    ada.send(Progress())
    assert xp_of(tutor, ada.id) == xp + 30  # never debited


def test_a_renamed_lesson_keeps_its_learners(repo: Path) -> None:
    tutor, content, ada = completed(repo)
    xp = xp_of(tutor, ada.id)
    old, new = lesson_file(repo), lesson_file(repo, "markets_101")
    text = (
        old.read_text(encoding="utf-8")
        .replace(f"id: {MARKET}", "id: markets_101")
        .replace("replaces: []", f"replaces: [{MARKET}]")
    )
    new.write_text(text, encoding="utf-8")
    old.unlink()
    for other in (repo / "content").rglob("*.yaml"):
        if other != new and MARKET in other.read_text(encoding="utf-8"):
            replace_in(other, MARKET, "markets_101")
    commit_all(repo, "rename")
    release(repo, "markets_101", "major", "Renamed to markets_101")
    content.refresh()
    ada.send(ListLessons())
    assert "🔄 What Is a Market?" in ada.text  # done, and updated since (the rename is a new major)
    assert progress_of(tutor, ada.id, "markets_101").status == "completed"
    assert progress_of(tutor, ada.id, MARKET) is None
    ada.press("What Is a Market?")
    ada.press("Retake")
    ada.read_to_quiz()
    for _ in content.latest("markets_101").quiz.questions:
        ada.answer_current(correct=True)
    assert xp_of(tutor, ada.id) == xp  # the rename pays nothing twice
    keys = [a.key for a in ledger_of(tutor, ada.id)]
    assert len(keys) == len(set(keys))


def test_level_names_exist_for_every_level() -> None:
    assert all(gamification.level_name(level) for level in range(1, 11))


def test_a_broken_published_version_falls_back_to_the_last_good_one(
    repo: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from testing.repo import git

    tutor, content, ada = learner_mid_lesson(repo, steps=1)
    replace_in(lesson_file(repo), 'version: "1.0.0"', 'version: "1.1.0"\nsections: [broken')
    commit_all(repo, "a broken lesson at HEAD")
    git(repo, "tag", "-a", f"lesson/{MARKET}/v1.1.0", "-m", "1.1.0 (published by hand, broken)")
    content.refresh()
    with caplog.at_level("ERROR", logger="fiml_bot.content"):
        ada.press("Next")
    assert progress_of(tutor, ada.id, MARKET).current_section == "participants"
    assert content.latest(MARKET).version == "1.0.0"
    assert any("serving 1.0.0, the newest version that works" in r.getMessage() for r in caplog.records)
    bob = Learner(tutor, "test:2")
    bob.send(ListLessons())
    bob.press("What Is a Market?")
    assert progress_of(tutor, bob.id, MARKET).pinned_version == "1.0.0"
