"""Issue 15.13 and "Done when": the README's lesson format example is a valid lesson, and the
walk-through's commands exist with the options it uses."""

from __future__ import annotations

import re
from pathlib import Path

from testing.cli import cli
from testing.repo import PROJECT

README = (PROJECT / "README.md").read_text(encoding="utf-8")


def test_the_complete_example_lesson_is_valid(tmp_path: Path) -> None:
    block = README.split("<!-- example-lesson -->\n```yaml\n", 1)[1].split("```", 1)[0]
    lessons = tmp_path / "content" / "lessons"
    lessons.mkdir(parents=True)
    (lessons / "bond_basics.yaml").write_text(block, encoding="utf-8")
    (tmp_path / ".fiml-cms.toml").write_text("", encoding="utf-8")
    result = cli("validate", str(lessons / "bond_basics.yaml"))
    assert result.exit_code == 0, result.output
    for section in ("text", "key_points", "live_example", "chart"):
        assert f"type: {section}\n" in block
    for question in ("multiple_choice", "true_false", "numeric"):
        assert f"type: {question}\n" in block
    assert "tolerance:" in block and "unit:" in block


def test_the_format_reference_names_every_choice() -> None:
    section = README.split("## Lesson format", 1)[1].split("## Commands", 1)[0]
    for word in (
        "`beginner`, `intermediate` or `advanced`",
        "`text`",
        "`key_points`",
        "`live_example`",
        "`chart`",
        "`multiple_choice`",
        "`true_false`",
        "`numeric`",
        "`tolerance`",
        "`unit`",
        "`fixed_income`",
    ):
        assert word in section, word


def test_every_fiml_cms_command_in_the_walk_through_is_a_real_command() -> None:
    walk = README.split("## Authors: a content repository from scratch", 1)[1].split("## Lesson format", 1)[0]
    blocks = (
        "\n".join(re.findall(r"```sh\n(.*?)```", walk, re.S))
        + "\n"
        + "\n".join(re.findall(r"`(fiml-cms [^`]+)`", walk))
    )
    used = set(re.findall(r"fiml-cms ([a-z]+)", blocks))
    assert {"new", "validate", "tag", "diff", "bump", "check", "archive", "yank", "versions"} <= used
    for command in used:
        assert cli(command, "--help").exit_code == 0, command
