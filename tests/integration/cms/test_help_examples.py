"""Every `Example:` that a `--help` of fiml-cms or fiml-bot shows is a command line its parser accepts
(issue 21 item 15: `fiml-bot db downgrade -1` failed with "No such option: -1"). The commands are found
by walking both CLIs, so a command added later is covered without editing this file."""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from fiml_bot.cli import app as bot_app
from fiml_cms.cli import app as cms_app
from testing.repo import PROJECT

PROGRAMS = {"fiml-bot": bot_app, "fiml-cms": cms_app}
# Typer's click is vendored (typer._click), so its classes are used by duck type: a group has `commands`,
# a refused command line raises click's UsageError, whose exit code is 2.


def is_group(command: Any) -> bool:
    return hasattr(command, "commands")


def commands(group: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    for name, command in sorted(group.commands.items()):
        if command.hidden:
            continue
        if is_group(command):
            yield from commands(command, (*path, name))
        else:
            yield (*path, name), command


def every_command() -> list[tuple[str, tuple[str, ...], Any]]:
    found = []
    for program, app in PROGRAMS.items():
        root = typer.main.get_command(app)
        assert is_group(root)
        found.extend((program, path, command) for path, command in commands(root, ()))
    return found


def example_of(command: Any) -> str:
    epilog = command.epilog or ""
    assert "Example:" in epilog, "every command's --help ends with an example"
    return epilog.split("Example:", 1)[1].strip()


def parse(line: str) -> tuple[tuple[str, ...], Any]:
    """Parse `line` exactly as the CLI would (environment assignments first are skipped); the
    command path reached and the leaf's context. click's UsageError if the parser refuses it."""
    words = shlex.split(line)
    while words and "=" in words[0] and not words[0].startswith("-"):
        words.pop(0)
    program, args = words[0], words[1:]
    command: Any = typer.main.get_command(PROGRAMS[program])
    context = command.make_context(program, list(args))
    path: tuple[str, ...] = ()
    while is_group(command):
        protected = getattr(context, "_protected_args", None) or getattr(context, "protected_args", [])
        rest = [*protected, *context.args]
        name, sub, rest = command.resolve_command(context, rest)
        assert name is not None and sub is not None
        path += (name,)
        command = sub
        context = command.make_context(name, rest, parent=context)
    return path, context


CASES = every_command()


@pytest.mark.parametrize(
    ("program", "path", "command"), CASES, ids=[f"{p} {' '.join(path)}" for p, path, _ in CASES]
)
def test_the_help_example_is_a_command_line_the_cli_accepts(
    program: str, path: tuple[str, ...], command: Any
) -> None:
    line = example_of(command)
    assert f"{program} {' '.join(path)}" in line, f"the example of {path} runs another command: {line}"
    reached, context = parse(line)
    assert reached == path
    for param in command.params:  # every required argument is given
        if param.required:
            assert context.params.get(param.name) is not None, (line, param.name)


def test_there_are_examples_of_both_programs() -> None:
    programs = {program for program, _, _ in CASES}
    assert programs == {"fiml-bot", "fiml-cms"} and len(CASES) >= 30


def test_a_bad_example_would_be_caught() -> None:
    with pytest.raises(Exception, match="No such option") as refused:
        parse("fiml-bot db upgrade -1")
    assert getattr(refused.value, "exit_code", None) == 2
    with pytest.raises(Exception, match="Missing") as refused:
        parse("fiml-bot release switch green")
    assert getattr(refused.value, "exit_code", None) == 2


# The examples run for real in a sandbox (a content repository with a SQLite database under var/), in
# this order: each leaves what the next one needs, and `SETUP` does what an author or operator would
# have done between two of them (commit, edit, a remote, a learner). Left to the parser test above:
# what needs a live deployment (run, release start/switch/alert, promote and rollback of a running
# release), sends to Telegram (announce), runs until stopped (canary watch), or names a file made by
# hand (db restore/rehearse of a dated snapshot, upgrade legacy/, chat --content ../my-lessons, keys
# rotate on PostgreSQL).
RUNNABLE = [
    ("fiml-bot", ("release", "init")),
    ("fiml-cms", ("new",)),
    ("fiml-cms", ("validate",)),
    ("fiml-cms", ("tag",)),
    ("fiml-cms", ("versions",)),
    ("fiml-cms", ("show",)),
    ("fiml-cms", ("diff",)),
    ("fiml-cms", ("bump",)),
    ("fiml-cms", ("yank",)),
    ("fiml-cms", ("check",)),
    ("fiml-cms", ("archive",)),
    ("fiml-cms", ("canary",)),
    ("fiml-cms", ("promote",)),
    ("fiml-bot", ("db", "upgrade")),
    ("fiml-bot", ("db", "current")),
    ("fiml-cms", ("reports",)),
    ("fiml-bot", ("db", "snapshot")),
    ("fiml-bot", ("db", "snapshots")),
    ("fiml-bot", ("doctor",)),
    ("fiml-bot", ("progress", "export")),
    ("fiml-bot", ("progress", "import")),
    ("fiml-bot", ("rescore",)),
    ("fiml-bot", ("canary", "status")),
    ("fiml-bot", ("notify",)),
    ("fiml-bot", ("keys", "generate")),
    ("fiml-bot", ("db", "downgrade")),
    ("fiml-bot", ("flags", "check")),
    ("fiml-bot", ("flags", "explain")),
    ("fiml-bot", ("release", "check")),
    ("fiml-bot", ("release", "render")),
    ("fiml-bot", ("release", "status")),
    ("fiml-bot", ("remind",)),
    ("fiml-bot", ("release", "pause")),
    ("fiml-bot", ("release", "resume")),
    ("fiml-bot", ("release", "abort")),
    ("fiml-bot", ("release", "health")),
]


def _git(root: Path, *args: str) -> None:
    import subprocess

    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def _commit(root: Path) -> None:
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "example step")


def _edit_bond_basics(root: Path) -> None:
    lesson = root / "content/lessons/bond_basics.yaml"
    text = lesson.read_text(encoding="utf-8")
    lesson.write_text(text.replace("title: Bond Basics", "title: Bond Basics Explained", 1), encoding="utf-8")


def _remote(root: Path) -> None:
    """An `origin` the pull-request gate compares with (a bare clone, as a host would have)."""
    _git(root.parent, "clone", "-q", "--bare", str(root), "origin.git")
    _git(root, "remote", "add", "origin", str(root.parent / "origin.git"))
    _git(root, "fetch", "-q", "origin")


def _learner_carol(root: Path) -> None:
    from typer.testing import CliRunner

    done = CliRunner().invoke(bot_app, ["chat", "--user", "carol"], input="/progress\nq\n")
    assert done.exit_code == 0, done.output


def _publish_what_is_a_market(root: Path) -> None:
    from typer.testing import CliRunner

    assert CliRunner().invoke(cms_app, ["tag", "what_is_a_market"]).exit_code == 0


SETUP = {
    ("fiml-cms", ("tag",)): _commit,
    ("fiml-cms", ("diff",)): _edit_bond_basics,
    ("fiml-cms", ("bump",)): lambda root: None,
    ("fiml-cms", ("check",)): _remote,
    ("fiml-bot", ("progress", "export")): _learner_carol,
    ("fiml-bot", ("rescore",)): _publish_what_is_a_market,
    # the operator's flag file (the project's own; `release init` writes deployment files, not flags)
    ("fiml-bot", ("flags", "check")): lambda root: shutil.copy(
        PROJECT / "deploy/flags.json", root / "deploy"
    ),
    ("fiml-bot", ("notify",)): lambda root: _git(root, "tag", "lessons-2026-11", "HEAD~1"),
}


def test_the_examples_run_in_a_sandbox(git_repo: Path) -> None:
    from typer.testing import CliRunner

    found = {(program, path): command for program, path, command in CASES}
    env = {"FIML_DATABASE_URL": "sqlite:///var/fiml.db", "FIML_CONTENT_REPO": str(git_repo)}
    for program, path in RUNNABLE:
        SETUP.get((program, path), lambda root: None)(git_repo)
        line = example_of(found[(program, path)])
        words = shlex.split(line)
        assert words[0] == program
        result = CliRunner().invoke(PROGRAMS[program], words[1:], env=env)
        assert result.exception is None or isinstance(result.exception, SystemExit), (line, result.exception)
        # 0, or 1 for findings or a refusal that names what to do (a canary command with no canary
        # running): never a usage error or a bug.
        assert result.exit_code in (0, 1), f"{line}: exit {result.exit_code}\n{result.output}"
        assert "Traceback" not in result.output and "No such option" not in result.output, line
    assert (git_repo / "var" / "release" / "haproxy.cfg").exists()
    assert (git_repo / "carol.json").exists()
