"""`fiml-bot chat`: a scripted session through a whole lesson and quiz, as a real subprocess."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from fiml_bot.adapters.console import parse_line, to_rich
from fiml_bot.tutor.events import Command, Pressed, SetTimeZone, Text
from fiml_bot.tutor.messages import Button
from fiml_cms.document import parse_lesson
from fiml_cms.lesson import MultipleChoiceQuestion, NumericQuestion, TrueFalseQuestion


def fiml_bot(*args: str, stdin: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "fiml_bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


def answers_for(lesson_file: Path) -> list[str]:
    """The input lines that answer the lesson's quiz correctly."""
    lesson = parse_lesson(lesson_file.read_bytes(), "x")
    lines = []
    for question in lesson.quiz.questions:
        if isinstance(question, MultipleChoiceQuestion):
            lines.append(str(question.answer + 1))
        elif isinstance(question, TrueFalseQuestion):
            lines.append("1" if question.answer else "2")
        else:
            assert isinstance(question, NumericQuestion)
            lines.append(f"{question.answer:g}")
    return lines


def test_a_scripted_session_through_a_whole_lesson(content_repo: Path, tmp_path: Path) -> None:
    lesson = content_repo / "content/lessons/what_is_a_market.yaml"
    sections = len(parse_lesson(lesson.read_bytes(), "x").sections)
    script = ["1", "1"] + ["1"] * sections + answers_for(lesson) + ["/progress", "/nonsense", "99"]
    database = f"sqlite:///{tmp_path / 'var' / 'chat.db'}"
    done = fiml_bot(
        "chat", "--database", database, "--preview", stdin="\n".join(script) + "\n", cwd=content_repo
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Welcome, local!" in out
    assert out.count("✅ Correct!") == len(answers_for(lesson))
    assert "Lesson complete: What Is a Market?" in out and "First Steps" in out
    assert re.search(r"⭐ \d+ XP · level \d", out)
    assert "1 lesson completed" in out
    assert "don't know the command /nonsense" in out
    assert "Pick a number from 1 to" in out
    assert "Traceback" not in done.stderr
    again = fiml_bot("chat", "--database", database, "--preview", stdin="/progress\n", cwd=content_repo)
    assert "1 lesson completed" in again.stdout  # progress kept in the SQLite file


def test_end_of_input_exits_zero(content_repo: Path, tmp_path: Path) -> None:
    done = fiml_bot("chat", "--database", f"sqlite:///{tmp_path / 'x.db'}", stdin="", cwd=content_repo)
    assert done.returncode == 0 and "Welcome" in done.stdout


def test_a_bad_database_url_is_a_clear_error(content_repo: Path) -> None:
    done = fiml_bot("chat", "--database", "mysql://nobody@localhost/x", stdin="", cwd=content_repo)
    assert done.returncode == 2 and "fiml-bot: error:" in done.stderr and "Traceback" not in done.stderr


def test_input_lines_become_events() -> None:
    buttons = [Button("Next", "n|a|1.0.0|b"), Button("Other", "p")]
    assert parse_line("1", buttons) == Pressed("n|a|1.0.0|b")
    assert parse_line("3", buttons) == "Pick a number from 1 to 2."
    assert parse_line("/timezone Europe/Paris", buttons) == SetTimeZone("Europe/Paris")
    assert parse_line("/dance now", buttons) == Command("dance", "now")
    assert parse_line("12.5", []) == Text("12.5")
    assert parse_line("   ", buttons) is None


def test_markup_is_escaped_for_the_terminal() -> None:
    assert (
        to_rich("**bold** [red]not markup[/red] `code`")
        == "[bold]bold[/bold] \\[red]not markup\\[/red] [cyan]code[/cyan]"
    )
