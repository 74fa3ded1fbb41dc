"""The chat's rough edges of issue 26, each reproduced: words at choice questions, /timezone, unknown commands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fiml_bot.tutor.events import Command, ListLessons, SetTimeZone, Text
from fiml_cms.document import parse_lesson
from testing.cli import cli
from testing.tutor_driver import Learner, make_tutor, progress_of

MARKET = "what_is_a_market"


@pytest.fixture
def repo(market_published: Path) -> Path:
    """The first lesson published at 1.0.0."""
    return market_published


def at_quiz(repo: Path) -> Learner:
    tutor, _ = make_tutor(repo)
    ada = Learner(tutor)
    ada.send(ListLessons())
    ada.press("What Is a Market?")
    ada.read_to_quiz()
    return ada


def test_a_word_at_a_choice_question_is_an_option_s_text_ignoring_case(repo: Path) -> None:
    ada = at_quiz(repo)
    assert "question 1/5" in ada.text
    ada.send(Text("  matching BUY and sell orders under fixed rules "))
    assert "✅ Correct! +10 XP" in ada.text and "question 2/5" in ada.text
    ada.send(Text("FALSE"))  # q2's answer is false
    assert "✅ Correct! +10 XP" in ada.text and "question 3/5" in ada.text
    ada.send(Text("true"))  # not a true/false question: re-asked, with its own buttons
    assert "question 3/5" in ada.text and "Please pick one of the answers" in ada.text
    assert ada.last[-1].all_buttons[0].label.startswith("1. By calling")
    answers = progress_of(ada.tutor, ada.id, MARKET).answers
    assert [(a.question_id, a.given, a.correct) for a in answers] == [("q1", "1", True), ("q2", "f", True)]


def test_a_word_that_names_no_option_re_asks_the_true_false_question_with_its_buttons(repo: Path) -> None:
    ada = at_quiz(repo)
    ada.answer_current()
    ada.send(Text("maybe"))
    assert "question 2/5" in ada.text
    answers = [b.label for b in ada.last[-1].all_buttons if "Report" not in b.label]  # and the report button
    assert answers == ["True", "False"]
    assert "📚 Lessons" not in [b.label for m in ada.last for b in m.all_buttons]
    assert len(progress_of(ada.tutor, ada.id, MARKET).answers) == 1  # nothing was marked


def test_an_option_number_typed_at_a_choice_question_picks_it(repo: Path) -> None:
    ada = at_quiz(repo)
    ada.send(Text("2"))  # option 2 of q1 is the right one
    assert "✅ Correct!" in ada.text


def test_timezone_alone_shows_the_zone_and_how_to_change_it(repo: Path) -> None:
    tutor, _ = make_tutor(repo)
    ada = Learner(tutor)
    ada.send(SetTimeZone(""))
    assert "Your time zone is UTC" in ada.text and "/timezone" in ada.text and "''" not in ada.text
    ada.send(SetTimeZone("europe/berlin"))
    assert "Time zone set to Europe/Berlin" in ada.text
    ada.send(SetTimeZone("  "))
    assert "Your time zone is Europe/Berlin" in ada.text
    ada.send(SetTimeZone("america/new york"))
    assert "Time zone set to America/New_York" in ada.text


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("Europe/Berln", "Europe/Berlin"), ("Berlin", "Europe/Berlin"), ("Asia/Tokio", "Asia/Tokyo")],
)
def test_a_mistyped_zone_gets_a_did_you_mean_and_changes_nothing(repo: Path, typed: str, meant: str) -> None:
    tutor, _ = make_tutor(repo)
    ada = Learner(tutor)
    ada.send(SetTimeZone(typed))
    assert f"I don't know the time zone {typed!r}" in ada.text
    assert f"Did you mean /timezone {meant}" in ada.text
    with tutor.unit_of_work() as uow:
        learner = uow.progress.learner(ada.id)
    assert learner is not None and learner.time_zone == "UTC"


def test_a_zone_nothing_resembles_gets_examples(repo: Path) -> None:
    tutor, _ = make_tutor(repo)
    ada = Learner(tutor)
    ada.send(SetTimeZone("Mars/Olympus_Mons"))
    assert "Use a name like Europe/Berlin" in ada.text


def test_an_unknown_command_shows_the_menu_once(repo: Path) -> None:
    tutor, _ = make_tutor(repo)
    ada = Learner(tutor)
    ada.send(Command("foo"))
    assert "don't know the command /foo" in ada.text and "**Commands**" in ada.text
    labels = [b.label for m in ada.last for b in m.all_buttons]
    assert labels == ["📚 Lessons", "📈 My progress"]


def test_the_questions_of_the_fixture_lesson_are_as_this_module_expects(repo: Path) -> None:
    lesson = parse_lesson((repo / "content/lessons" / f"{MARKET}.yaml").read_bytes(), "x")
    kinds = [type(q).__name__ for q in lesson.quiz.questions]
    assert kinds[:3] == ["MultipleChoiceQuestion", "TrueFalseQuestion", "MultipleChoiceQuestion"]


def test_the_terminal_chat_answers_a_word_and_keeps_the_question_s_buttons(content_repo: Path) -> None:
    """`true` at a multiple-choice question re-asks it; the next `1` is its first option, not the lesson list."""
    lesson = parse_lesson((content_repo / "content/lessons" / f"{MARKET}.yaml").read_bytes(), "x")
    script = ["1", "1", *["1"] * len(lesson.sections), "matching buy and sell orders UNDER FIXED RULES"]
    script += ["false", "true", "3", "/foo"]
    done = chat_in(content_repo, content_repo, script)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.count("✅ Correct!") == 3  # q1 by its text, q2 by `false`, q3 by its button after the re-ask
    assert "Please pick one of the answers" in out and "question 4/5" in out
    assert "didn't understand" not in out and "Traceback" not in done.stderr
    unknown = out[out.index("don't know the command /foo") :]
    assert unknown.count("📚 Lessons") == 1 and "[3]" not in unknown


def test_the_terminal_chat_finds_the_progress_database_from_the_repository_root(content_repo: Path) -> None:
    inside = content_repo / "content"
    first = chat_in(content_repo, inside, ["/timezone Europe/Berlin"])
    assert first.returncode == 0, first.stderr
    assert (content_repo / "var" / "fiml.db").is_file()
    assert not (inside / "var").exists()
    again = chat_in(content_repo, content_repo, ["/timezone"])
    assert "Your time zone is Europe/Berlin" in again.stdout  # the same database, from the root


def chat_in(root: Path, cwd: Path, script: list[str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIML_")}
    return subprocess.run(
        [sys.executable, "-m", "fiml_bot", "chat", "--preview"],
        input="\n".join(script) + "\n",
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**env, "NO_COLOR": "1", "COLUMNS": "200"},
        timeout=120,
    )
