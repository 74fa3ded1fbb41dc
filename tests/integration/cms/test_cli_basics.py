"""Issue 15.14: `--version`, exit codes the README promises, an example in every `--help`, quiet dry runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fiml_bot import __version__ as bot_version
from fiml_bot.cli import app as bot_app
from fiml_cms import __version__ as cms_version
from fiml_cms.cli import app as cms_app
from testing.cli import cli
from testing.repo import git


def test_version_on_both_command_lines() -> None:
    assert cli("--version").output == f"fiml-cms {cms_version}\n"
    result = CliRunner().invoke(bot_app, ["--version"])
    assert result.exit_code == 0 and result.output == f"fiml-bot {bot_version}\n"


def _commands(app) -> list[list[str]]:
    import typer.main

    group = typer.main.get_command(app)
    out = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", None)
        out.extend([[name, sub] for sub in subcommands] if subcommands else [[name]])
    return out


@pytest.mark.parametrize("app,program", [(cms_app, "fiml-cms"), (bot_app, "fiml-bot")])
def test_every_help_shows_one_example(app, program: str) -> None:
    commands = _commands(app)
    assert len(commands) >= 8
    for words in commands:
        result = CliRunner().invoke(app, [*words, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, words
        assert result.output.count("Example:") == 1 and program in result.output.split("Example:")[1], words


def test_not_a_git_repository_is_exit_2(content_repo: Path) -> None:
    for args in (
        ["versions", "reading_stock_prices"],
        ["check", "--base", "main"],
        ["tag", "reading_stock_prices"],
        ["archive", "--check"],
    ):
        result = cli(*args)
        assert result.exit_code == 2, (args, result.output)
        assert "not inside a git repository" in result.output


def test_unknown_lesson_and_missing_ref_are_exit_2(git_repo: Path) -> None:
    result = cli("diff", "reading_stock_price")
    assert result.exit_code == 2 and "unknown lesson 'reading_stock_price'" in result.output
    assert "did you mean `reading_stock_prices`?" in result.output
    assert cli("versions", "no_such_lesson").exit_code == 2
    result = cli("versions", "what_is_a_markt")
    assert result.exit_code == 2 and "did you mean `what_is_a_market`?" in result.output
    result = cli("versions", "what_is_a_market")  # a lesson file, not published yet
    assert result.exit_code == 0 and "no published versions" in result.output
    result = cli("check", "--base", "no-such-branch")
    assert result.exit_code == 2 and "unknown git ref 'no-such-branch'" in result.output
    assert cli("diff", "reading_stock_prices", "no-such-ref").exit_code == 2


def test_notify_dry_run_prints_no_alembic_lines(published: Path, tmp_path: Path) -> None:
    ref = git(published, "rev-parse", "HEAD")
    database = f"sqlite:///{tmp_path / 'fresh.db'}"  # created (migrated) by this very run
    env = {**os.environ, "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "fiml_bot", "notify", "--since", ref, "--dry-run", "--database", database],
        cwd=published,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "0 notice(s) [dry run" in done.stdout
    assert "alembic" not in done.stderr.lower() and "INFO" not in done.stderr
