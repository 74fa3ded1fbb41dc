"""Issue 15.1-15.5: the learner's side, tried as a newcomer would (terminal chat, progress export)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fiml_bot.adapters.console import ConsoleChat, parse_line
from fiml_bot.cli import app as bot_app
from fiml_bot.tutor.events import Text
from fiml_bot.tutor.messages import Button, Message
from testing.cli import cli
from testing.repo import commit_all, git
from testing.tutor_driver import learner_mid_lesson, release

NUMERIC_QUIZ = """    - id: q1
      type: numeric
      prompt: A bond pays a 4% coupon on 1,000. How many dollars a year is that?
      answer: 40
      tolerance: 0.5
      unit: USD
      explanation: 4% of 1,000 is 40.
      xp: 10
"""


def chat(*args: str, stdin: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "fiml_bot", "chat", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


@pytest.fixture
def bond_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A new content repository with one lesson, made with `fiml-cms new`, whose quiz is one numeric question."""
    root = tmp_path / "lessons-repo"
    root.mkdir()
    monkeypatch.chdir(root)
    assert cli("new", "bond_basics", "--title", "Bond Basics", "--category", "fixed_income").exit_code == 0
    path = root / "content/lessons/bond_basics.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.index("    - id: q1")] + NUMERIC_QUIZ, encoding="utf-8")
    assert cli("validate").exit_code == 0
    return root


# 15.1 -----------------------------------------------------------------------------------------
def test_a_whole_number_answers_a_numeric_question_in_the_terminal(bond_repo: Path, tmp_path: Path) -> None:
    # Lessons, the lesson, Next, Start the quiz, then the answer 40 (typed, not a button).
    done = chat("--database", f"sqlite:///{tmp_path / 'chat.db'}", stdin="1\n1\n1\n1\n40\n", cwd=bond_repo)
    assert done.returncode == 0, done.stderr
    assert "Type your answer as a number." in done.stdout
    assert "✅ Correct!" in done.stdout
    assert "Pick a number" not in done.stdout and "earlier message" not in done.stdout


def test_a_reply_without_buttons_retires_the_old_ones() -> None:
    out = io.StringIO()
    console = ConsoleChat(lambda event: [], output=out, color=False)
    console.show([Message("Pick one", ((Button("Next", "n|x"),),))])
    assert parse_line("1", console.buttons) is not None and console.buttons
    console.show([Message("Type your answer as a number.")])
    assert console.buttons == []
    assert parse_line("5", console.buttons) == Text("5")


def test_telegram_grades_a_typed_whole_number_at_a_numeric_question(bond_repo: Path) -> None:
    """Telegram keeps buttons on their own messages, so a typed `1` is an answer there, never a button."""
    import asyncio

    from testing.telegram_harness import Harness

    git(bond_repo, "init", "-q", "-b", "main")
    commit_all(bond_repo, "First lesson")
    assert cli("tag", "bond_basics").exit_code == 0

    async def scenario() -> None:
        async with Harness(bond_repo) as h:
            await h.say("/start")
            await h.tap("Lessons")
            await h.tap("Bond Basics")
            await h.tap("Next")
            await h.tap("Start the quiz")
            assert "Type your answer as a number." in h.last_text()
            await h.say("1")
            assert "Not quite. The answer is 40 USD." in h.bot_texts()
            assert "earlier message" not in h.bot_texts()
            await h.tap("Try again")
            await h.tap("Next")
            await h.tap("Start the quiz")
            await h.say("40")
            assert "✅ Correct!" in h.bot_texts()

    asyncio.run(scenario())


# 15.2 -----------------------------------------------------------------------------------------
def test_a_content_path_that_does_not_exist_is_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent" / "x"
    done = chat(
        "--content", str(missing), "--database", f"sqlite:///{tmp_path / 'c.db'}", stdin="", cwd=tmp_path
    )
    assert done.returncode == 2
    assert f"{missing}: no such content folder" in done.stderr
    assert "no lessons yet" not in done.stdout.lower()


def test_a_content_path_without_lessons_is_exit_2(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    done = chat(
        "--content", str(empty), "--database", f"sqlite:///{tmp_path / 'c.db'}", stdin="", cwd=tmp_path
    )
    assert done.returncode == 2
    assert f"{empty / 'content' / 'lessons'}: no lessons to serve" in done.stderr


# 15.3 -----------------------------------------------------------------------------------------
def test_the_major_update_prompt_says_what_changed(published: Path) -> None:
    _tutor, content, ada = learner_mid_lesson(published, steps=1)
    release(
        published, "what_is_a_market", "minor", "A note on auctions", ("ends near $560", "ends near $590")
    )
    release(
        published,
        "what_is_a_market",
        "major",
        "Venues instead of exchanges",
        ("  - id: exchanges\n", "  - id: venues\n"),
    )
    content.refresh()
    ada.press("Next")
    assert "new edition" in ada.text
    assert "What changed:\n• Venues instead of exchanges\n• A note on auctions" in ada.text


# 15.4 -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("word", ["/quit", "exit", "q", "/exit"])
def test_typing_a_way_out_ends_the_chat(bond_repo: Path, tmp_path: Path, word: str) -> None:
    done = chat("--database", f"sqlite:///{tmp_path / 'chat.db'}", stdin=f"1\n{word}\n1\n", cwd=bond_repo)
    assert done.returncode == 0, done.stderr
    assert "Bye!" in done.stdout and "didn't understand" not in done.stdout
    assert "Bond Basics · 1/2" not in done.stdout  # the line after the way out was not read


def test_a_piped_transcript_echoes_each_input_line(bond_repo: Path, tmp_path: Path) -> None:
    done = chat("--database", f"sqlite:///{tmp_path / 'chat.db'}", stdin="1\n/progress\n", cwd=bond_repo)
    out = done.stdout
    assert "› 1\n" in out and "› /progress\n" in out
    assert out.index("› 1") < out.index("Lessons (page 1") < out.index("› /progress")


# 15.5 -----------------------------------------------------------------------------------------
def test_progress_export_accepts_the_chat_name(bond_repo: Path, tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'chat.db'}"
    assert chat("--database", database, "--user", "carol", stdin="1\n1\n", cwd=bond_repo).returncode == 0
    assert chat("--database", database, "--user", "carlos", stdin="1\n", cwd=bond_repo).returncode == 0
    result = CliRunner().invoke(bot_app, ["progress", "export", "carol", "-", "--database", database])
    assert result.exit_code == 0, result.output
    assert '"user_id": "console:carol"' in result.stdout
    result = CliRunner().invoke(bot_app, ["progress", "export", "carl", "-", "--database", database])
    assert result.exit_code == 1
    assert (
        "no learner 'carl'" in result.output
        and "did you mean" in result.output
        and "console:carol" in result.output
    )


def test_progress_export_refuses_an_ambiguous_name(tmp_path: Path) -> None:
    from fiml_bot.documents.learners import LearnerNotFound, resolve_learner
    from fiml_bot.storage import MemoryStorage
    from fiml_bot.tutor.model import Learner as LearnerRecord

    storage = MemoryStorage()
    with storage() as uow:
        for learner_id in ("console:sam", "telegram:sam"):
            uow.progress.save_learner(LearnerRecord(learner_id, "Sam"))
        uow.commit()
    with pytest.raises(LearnerNotFound, match="'sam' is ambiguous: console:sam, telegram:sam"):
        resolve_learner(storage, "sam")
    assert resolve_learner(storage, "telegram:sam") == "telegram:sam"
