"""Issue 10.7: a rerun of `bump --commit --tag` finishes a bump killed half-way instead of starting another.

The kills are real: a git hook sends SIGKILL to the `fiml-cms` process at the chosen moment.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from testing.cli import cli
from testing.repo import PROJECT, commit_all, git, replace_in

TAG = "lesson/reading_stock_prices/v1.0.1"
BUMP = [
    "bump",
    "reading_stock_prices",
    "patch",
    "-m",
    "Clearer wording",
    "--date",
    "2026-12-01",
    "--commit",
    "--tag",
]

# The hook runs under git, which runs under fiml-cms: kill the grandparent.
KILLER = """#!/bin/sh
git_pid=$PPID
fiml_pid=$(cut -d' ' -f4 /proc/"$git_pid"/stat)
kill -9 "$fiml_pid"
exit {code}
"""


def install_hook(root: Path, name: str, code: int) -> Path:
    hook = root / ".git" / "hooks" / name
    hook.parent.mkdir(exist_ok=True)
    hook.write_text(KILLER.format(code=code), encoding="utf-8")
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    return hook


def run_killed(root: Path) -> int:
    """Run the bump in a process the hook kills; return its exit status once its git child is done too."""
    done = subprocess.run(
        [sys.executable, "-m", "fiml_cms", *BUMP],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
    )
    deadline = time.monotonic() + 10
    while (root / ".git" / "index.lock").exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # the orphaned `git commit` finishes (and unlocks the index) on its own
    return done.returncode


LESSON = Path("content/lessons/reading_stock_prices.yaml")


@pytest.fixture
def published(git_repo: Path) -> Path:
    """reading_stock_prices tagged at 1.0.0, the other lessons unpublished."""
    assert cli("tag", "reading_stock_prices").exit_code == 0
    return git_repo


@pytest.fixture
def edited(published: Path) -> Path:
    replace_in(published / LESSON, "It tells you where the stock", "It shows where the stock")
    commit_all(published, "wording")
    return published


def assert_bumped_once_and_tagged(root: Path) -> None:
    assert git(root, "status", "--porcelain") == ""
    assert git(root, "rev-list", "-n1", TAG) == git(root, "rev-parse", "HEAD")
    assert 'version: "1.0.1"' in (root / LESSON).read_text(encoding="utf-8")
    assert git(root, "log", "--format=%s", "-3").splitlines()[:2] == [
        "reading_stock_prices: version 1.0.1",
        "wording",
    ]


def test_killed_after_the_commit_the_rerun_tags_it(edited: Path) -> None:
    hook = install_hook(edited, "post-commit", 0)
    assert run_killed(edited) == -signal.SIGKILL
    hook.unlink()
    assert git(edited, "tag", "-l", TAG) == ""  # committed, never tagged
    result = cli(*BUMP)
    assert result.exit_code == 0, result.output
    assert "finished the interrupted bump to 1.0.1" in result.stdout and f"tagged {TAG}" in result.stdout
    assert_bumped_once_and_tagged(edited)


def test_killed_between_add_and_commit_the_rerun_commits_and_tags(edited: Path) -> None:
    hook = install_hook(edited, "pre-commit", 1)
    assert run_killed(edited) == -signal.SIGKILL
    hook.unlink()
    assert git(edited, "diff", "--cached", "--name-only") == LESSON.as_posix()  # staged, not committed
    result = cli(*BUMP)
    assert result.exit_code == 0, result.output
    assert "committed" in result.stdout and f"tagged {TAG}" in result.stdout
    assert_bumped_once_and_tagged(edited)


def test_killed_after_the_write_before_git_add(edited: Path) -> None:
    assert cli(*BUMP[:-2]).exit_code == 0  # the bump is written, nothing staged or committed
    result = cli(*BUMP)
    assert result.exit_code == 0, result.output
    assert_bumped_once_and_tagged(edited)


def test_a_different_change_is_not_taken_for_an_interrupted_bump(edited: Path) -> None:
    assert cli(*BUMP[:-1]).exit_code == 0  # committed 1.0.1 on purpose, without a tag
    other = [
        "bump",
        "reading_stock_prices",
        "patch",
        "-m",
        "Another fix",
        "--date",
        "2026-12-02",
        "--commit",
        "--tag",
    ]
    result = cli(*other)
    assert result.exit_code == 0, result.output
    assert "1.0.1 -> 1.0.2" in result.stdout


def test_other_edits_in_the_file_still_refuse(edited: Path) -> None:
    assert cli(*BUMP[:-2]).exit_code == 0
    replace_in(edited / LESSON, "It shows where the stock", "It shows where a stock")
    result = cli(*BUMP)
    assert result.exit_code == 1 and "uncommitted changes" in result.output
