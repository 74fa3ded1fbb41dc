"""Issue 27.1: a YAML error is reported where the broken construct starts, a lesson that does not parse is
reported once (what refers to it says it does not parse), and a hint followed literally fixes its problem."""

from __future__ import annotations

from pathlib import Path

from testing.cli import cli
from testing.repo import replace_in

LESSONS = Path("content/lessons")
MARKET = LESSONS / "what_is_a_market.yaml"


def test_an_unclosed_quote_is_named_at_its_line_and_column(content_repo: Path) -> None:
    lines = (content_repo / MARKET).read_text(encoding="utf-8").splitlines()
    number = next(i for i, line in enumerate(lines, 1) if line.startswith("title: "))
    replace_in(content_repo / MARKET, "title: What Is a Market?", 'title: "Bond Basics')
    result = cli("validate", str(MARKET))
    assert result.exit_code == 1
    assert f"{MARKET.as_posix()}:{number}:8: error FIML001 this quote is never closed" in result.output
    assert "the parser gave up at line" in result.output
    assert "check the indentation" not in result.output


def test_a_quote_left_open_at_the_end_of_the_file(content_repo: Path) -> None:
    text = (content_repo / MARKET).read_text(encoding="utf-8")
    (content_repo / MARKET).write_text(text + 'extra: "never closed\n', encoding="utf-8")
    result = cli("validate", str(MARKET))
    assert "this quote is never closed: the file ends inside it" in result.output


def test_a_multi_line_quoted_text_is_not_mistaken_for_an_unclosed_quote(content_repo: Path) -> None:
    replace_in(content_repo / MARKET, "title: What Is a Market?", 'title: "What Is\n  a Market?"')
    assert "never closed" not in cli("validate", str(MARKET)).output


def test_a_path_says_its_lesson_does_not_parse_and_the_error_is_reported_once(content_repo: Path) -> None:
    replace_in(content_repo / MARKET, "title: What Is a Market?", 'title: "Bond Basics')
    result = cli("validate")
    assert result.exit_code == 1
    assert 'lesson "what_is_a_market" is not a lesson in this repository' not in result.output
    assert 'lesson "what_is_a_market" cannot be checked: its file' in result.output
    assert result.output.count("this quote is never closed") == 1


def test_the_version_hint_followed_literally_validates(content_repo: Path) -> None:
    replace_in(content_repo / MARKET, 'version: "1.0.0"', "version: 1.0")
    result = cli("validate", str(MARKET))
    assert 'write it in quotes: "1.0.0"' in result.output
    replace_in(content_repo / MARKET, "version: 1.0", 'version: "1.0.0"')
    assert cli("validate", str(MARKET)).exit_code == 0
