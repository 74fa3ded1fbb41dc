"""Issue 27: both command lines follow one set of conventions: help that fits an 80-column terminal, a
closed stdout ends a command quietly (git's behaviour), and shell completion of commands, lesson ids and
a lesson's versions."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from testing.cli import cli

BIN = Path(sys.executable).parent
PIPE_CLOSED = 141


def _apps() -> list[tuple[str, typer.Typer]]:
    from fiml_bot.cli import app as bot
    from fiml_cms.cli import app as cms

    return [("fiml-cms", cms), ("fiml-bot", bot)]


def _commands(name: str, command: Any) -> Iterator[tuple[str, Any]]:
    yield name, command
    if hasattr(command, "commands"):  # a group (Typer carries its own copy of Click)
        for sub_name, sub in command.commands.items():
            yield from _commands(f"{name} {sub_name}", sub)


def _every_help() -> Iterator[tuple[str, str]]:
    for program, app in _apps():
        root = typer.main.get_command(app)
        for path, command in _commands(program, root):
            with typer.Context(command, info_name=path, terminal_width=80, max_content_width=80) as ctx:
                yield path, command.get_help(ctx)


def test_every_help_shows_every_option_text_whole_at_80_columns() -> None:
    helps = dict(_every_help())
    assert len(helps) > 30  # both tools, every group and command
    for path, text in helps.items():
        assert "…" not in text, f"{path} --help cuts a text:\n{text}"
        wide = [line for line in text.splitlines() if len(line) > 80]
        assert not wide, f"{path} --help is wider than 80 columns: {wide}"


def test_every_option_text_is_shown_whole_at_80_columns() -> None:
    """Wrapped is fine, cut is not: each option's help, every character in order, is in its command's
    --help (wrapping adds only whitespace, also after a hyphen: `pre-` / `commit`)."""
    checked = 0
    for program, app in _apps():
        root = typer.main.get_command(app)
        for path, command in _commands(program, root):
            with typer.Context(command, info_name=path, terminal_width=80, max_content_width=80) as ctx:
                shown = "".join(command.get_help(ctx).split())
            for param in command.params:
                text = "".join((getattr(param, "help", None) or "").split())
                if text and not getattr(param, "hidden", False):
                    assert text in shown, f"{path}: the help of {param.name} is not shown whole:\n{shown}"
                    checked += 1
    assert checked > 100


def test_help_in_a_real_80_column_terminal_keeps_long_words() -> None:
    env = {**os.environ, "COLUMNS": "80"}
    done = subprocess.run(
        [sys.executable, "-m", "fiml_bot", "run", "--help"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    assert "…" not in done.stdout
    assert "var/fiml.db" in done.stdout and "FIML_TELEGRAM_API_URL" in done.stdout


def _with_stdout_closed(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the command writes anything (`| head -0`)
    try:
        done = subprocess.run(
            [sys.executable, *args], stdout=write_end, stderr=subprocess.PIPE, text=True, cwd=cwd, env=env
        )
    finally:
        os.close(write_end)
    return done.returncode, done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["-m", "fiml_cms", "--version"],
        ["-m", "fiml_cms", "--help"],
        ["-m", "fiml_cms", "validate"],
        ["-m", "fiml_bot", "db", "current"],
    ],
)
def test_a_closed_stdout_ends_the_command_quietly(content_repo: Path, args: list[str]) -> None:
    env = {**os.environ, "FIML_DATABASE_URL": f"sqlite:///{content_repo / 'var' / 'fiml.db'}"}
    code, stderr = _with_stdout_closed(args, content_repo, env)
    assert stderr == ""
    assert code == PIPE_CLOSED


def test_completion_is_offered_by_both_tools() -> None:
    for _, app in _apps():
        root = typer.main.get_command(app)
        names = {opt for param in root.params for opt in getattr(param, "opts", [])}
        assert {"--install-completion", "--show-completion"} <= names


@pytest.fixture
def tagged(git_repo: Path) -> Path:
    assert cli("tag", "what_is_a_market").exit_code == 0
    return git_repo


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completes_lesson_ids_and_versions_for_diff(tagged: Path) -> None:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    # --show-completion detects the shell it runs in (its parent process): run it as a bash user does,
    # `eval "$(fiml-cms --show-completion)"`, whatever shell started the tests (make's recipes use sh).
    script = subprocess.run(
        ["bash", "-c", 'printf "%s\\n" "$(fiml-cms --show-completion)"'],
        capture_output=True,
        text=True,
        env=env,
        cwd=tagged,
    )
    assert script.returncode == 0 and "complete" in script.stdout, script.stderr

    def complete(*words: str) -> list[str]:
        line = ("fiml-cms", *words)
        driver = (
            f"{script.stdout}\n"
            f"COMP_WORDS=({' '.join(repr(w) for w in line)}); COMP_CWORD={len(words)}\n"
            f"_fiml_cms_completion fiml-cms {line[-1]!r} {line[-2]!r}\n"
            'printf "%s\\n" "${COMPREPLY[@]}"\n'
        )
        done = subprocess.run(["bash", "-c", driver], capture_output=True, text=True, env=env, cwd=tagged)
        assert done.returncode == 0, done.stderr
        return [line for line in done.stdout.splitlines() if line]

    assert "diff" in complete("di")
    lessons = complete("diff", "")
    assert "what_is_a_market" in lessons and "reading_stock_prices" in lessons
    assert complete("diff", "what_is_a") == ["what_is_a_market"]
    assert complete("diff", "what_is_a_market", "") == ["1.0.0", "worktree"]
    assert complete("show", "what_is_a_market@") == ["what_is_a_market@1.0.0"]


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_completion_protocols_complete_lesson_ids(tagged: Path, shell: str) -> None:
    env = {
        **os.environ,
        "_FIML_CMS_COMPLETE": f"complete_{shell}",
        "_TYPER_COMPLETE_ARGS": "fiml-cms diff what_is",
        "_TYPER_COMPLETE_FISH_ACTION": "get-args",  # what the fish script asks for
    }
    done = subprocess.run([str(BIN / "fiml-cms")], capture_output=True, text=True, env=env, cwd=tagged)
    assert "what_is_a_market" in done.stdout, (done.stdout, done.stderr)


# --- one exit-code table (README): 0 ok, 1 findings, 2 usage/environment --------------------------
def _leaf_commands() -> list[tuple[str, list[str]]]:
    leaves = []
    for program, app in _apps():
        root = typer.main.get_command(app)
        for path, command in _commands(program, root):
            if not hasattr(command, "commands"):
                leaves.append((program, path.split()[1:]))
    return leaves


@pytest.mark.parametrize(
    ("program", "words"), _leaf_commands(), ids=lambda v: " ".join(v) if isinstance(v, list) else v
)
def test_every_command_treats_a_usage_mistake_as_exit_2(program: str, words: list[str]) -> None:
    from typer.testing import CliRunner

    app = dict(_apps())[program]
    result = CliRunner().invoke(app, [*words, "--no-such-option"])
    assert result.exit_code == 2, result.output
    assert "No such option" in result.output


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_the_reporting_commands_exit_1_for_findings(git_repo: Path) -> None:
    from typer.testing import CliRunner

    from fiml_bot.cli import app as bot

    lesson = git_repo / "content/lessons/what_is_a_market.yaml"
    lesson.write_text(lesson.read_text(encoding="utf-8").replace("xp_reward: ", "xp_rewards: "), "utf-8")
    assert cli("validate").exit_code == 1
    assert cli("check", "--base", "HEAD").exit_code == 1  # changed without a version bump, or invalid
    flags = _write(git_repo / "deploy/flags.json", '{"flags": {"x": {"state": "ENABLED"}}}')
    assert CliRunner().invoke(bot, ["flags", "check", "--flags", str(flags)]).exit_code == 1
    rollout = _write(git_repo / "deploy/rollout.yaml", "deployment:\n  environments: [blue]\n")
    assert CliRunner().invoke(bot, ["release", "check", "--config", str(rollout)]).exit_code == 1


def test_refusals_of_the_state_exit_1_and_name_what_to_do(tmp_path: Path, git_repo: Path) -> None:
    """The table's 1 also covers a refusal: the input was fine, the state does not allow it."""
    from typer.testing import CliRunner

    from fiml_bot.cli import app as bot

    runner = CliRunner()
    assert runner.invoke(bot, ["release", "init", str(tmp_path / "deploy")]).exit_code == 0
    config = ["--config", str(tmp_path / "deploy" / "rollout.yaml")]
    for words in (["promote"], ["pause"], ["resume"], ["abort", "--reason", "x"]):
        result = runner.invoke(bot, ["release", *words, *config])
        assert result.exit_code == 1, (words, result.output)
        assert "no running release" in result.output or "no release is running" in result.output
    assert runner.invoke(bot, ["release", "switch", "red", "10", *config]).exit_code == 2

    url = f"sqlite:///{tmp_path / 'fiml.db'}"
    _write(tmp_path / "fiml.db", "")  # an empty SQLite file: a database without a schema
    empty = runner.invoke(bot, ["db", "downgrade", "base", "--database", url])
    assert empty.exit_code == 1 and "nothing to downgrade" in empty.output
    assert runner.invoke(bot, ["db", "upgrade", "--database", url, "--no-snapshot"]).exit_code == 0
    document = _write(tmp_path / "ada.json", '{"schema_version": "1.0", "user_id": "telegram:1", "xp": -5}')
    invalid = runner.invoke(bot, ["progress", "import", str(document), "--database", url])
    assert invalid.exit_code == 1 and "not a valid progress document" in invalid.output
    canary = ["--content", str(git_repo), "--database", url, "--flags", str(tmp_path / "flags.json")]
    none = runner.invoke(bot, ["canary", "status", "what_is_a_market", *canary])
    assert none.exit_code == 1 and "fiml-cms tag what_is_a_market --canary N" in none.output
    typo = runner.invoke(bot, ["canary", "status", "what_is_a_markt", *canary])
    assert typo.exit_code == 2 and "did you mean `what_is_a_market`?" in typo.output

    assert cli("tag", "what_is_a_market").exit_code == 0
    assert cli("archive", "--check").exit_code == 1  # the tagged version is not archived yet


# --- did you mean: unknown fields, commands and options (difflib, as git and kubectl do) ------------
def test_an_unknown_lesson_field_gets_a_did_you_mean(content_repo: Path) -> None:
    lesson = content_repo / "content/lessons/what_is_a_market.yaml"
    lesson.write_text(lesson.read_text(encoding="utf-8").replace("\ntitle:", "\ntitel:", 1), "utf-8")
    result = cli("validate", str(lesson))
    assert result.exit_code == 1
    findings = [line for line in result.output.splitlines() if " error " in line]
    assert len(findings) == 1, result.output  # one finding: no second one for the missing `title`
    assert "unknown field `titel` in the lesson; did you mean `title`?" in findings[0]


@pytest.mark.parametrize(
    ("program", "words", "meant"),
    [
        ("fiml-cms", ["valdate"], "validate"),
        ("fiml-cms", ["verisons", "x"], "versions"),
        ("fiml-bot", ["doctr"], "doctor"),
        ("fiml-bot", ["flags", "explian", "x", "y"], "explain"),
        ("fiml-bot", ["db", "curent"], "current"),
        ("fiml-bot", ["release", "promte"], "promote"),
    ],
)
def test_an_unknown_command_gets_a_did_you_mean(program: str, words: list[str], meant: str) -> None:
    from typer.testing import CliRunner

    result = CliRunner().invoke(dict(_apps())[program], words)
    assert result.exit_code == 2
    typed = next(w for w in words if w not in ("flags", "db", "release"))
    assert f"No such command '{typed}'. Did you mean '{meant}'?" in result.output


def test_a_word_like_no_command_gets_no_guess() -> None:
    from typer.testing import CliRunner

    for _, app in _apps():
        result = CliRunner().invoke(app, ["zzzzzz"])
        assert result.exit_code == 2 and "No such command 'zzzzzz'." in result.output
        assert "Did you mean" not in result.output


@pytest.mark.parametrize(
    ("program", "words", "meant"),
    [
        ("fiml-cms", ["validate", "--jsn"], "--json"),
        ("fiml-cms", ["show", "x@1.0.0", "--lesons", "l"], "--lessons"),
        ("fiml-bot", ["db", "current", "--databse", "sqlite://"], "--database"),
        ("fiml-bot", ["flags", "explain", "f", "u", "--flag", "x"], "--flags"),
    ],
)
def test_an_unknown_option_gets_a_did_you_mean(program: str, words: list[str], meant: str) -> None:
    from typer.testing import CliRunner

    result = CliRunner().invoke(dict(_apps())[program], words)
    assert result.exit_code == 2 and "No such option" in result.output
    guess = re.search(r"\(Possible options: ([^)]*)\)|Did you mean (\S+)\?", result.output)
    assert guess is not None and meant in (guess.group(1) or guess.group(2)).split(", "), result.output
