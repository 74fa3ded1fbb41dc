"""Issue 10.9: a lock left by a killed git is detected and the message says exactly what to do."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from fiml_cms.gitlocks import live_git_processes
from testing.cli import cli
from testing.repo import git
from testing.waiting import wait_until

TAG_LOCK = ".git/refs/tags/lesson/reading_stock_prices/v1.0.0.lock"


def leave_tag_lock(root: Path) -> Path:
    """What `kill -9` of `fiml-cms tag --from-history` together with its `git tag` child leaves."""
    lock = root / TAG_LOCK
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_bytes(b"")
    return lock


def test_a_stale_tag_lock_names_the_file_to_remove(git_repo: Path) -> None:
    lock = leave_tag_lock(git_repo)
    result = cli("tag", "--from-history")
    assert result.exit_code == 1
    assert (
        f"{lock} was left by a git process that was killed (none is running in this repository now): remove it with `rm '{lock}'` and run the command again"
        in result.stderr
    )
    assert "remove the file manually" not in result.stderr
    lock.unlink()
    assert cli("tag", "--from-history").exit_code == 0
    assert git(git_repo, "tag", "-l", "lesson/reading_stock_prices/*") == "lesson/reading_stock_prices/v1.0.0"


def test_a_lock_held_by_a_running_git_says_to_wait(git_repo: Path) -> None:
    lock = leave_tag_lock(git_repo)
    busy = subprocess.Popen(["git", "-c", "alias.wait=!sleep 30", "wait"], cwd=git_repo)
    try:
        result = cli("tag", "--from-history")
    finally:
        busy.kill()
        busy.wait()
    assert result.exit_code == 1
    assert (
        f"{lock} is held by a git process still running in this repository: pid {busy.pid}" in result.stderr
    )
    assert "wait for it to finish" in result.stderr


def test_live_git_processes_sees_only_this_repository(git_repo: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    busy = subprocess.Popen(["git", "-c", "alias.wait=!sleep 30", "wait"], cwd=elsewhere)
    try:
        # Popen returns after fork, possibly before the child has exec'd git (its /proc comm is still
        # python's): wait, boundedly, until it is git.
        wait_until(
            lambda: busy.pid in [p.pid for p in live_git_processes(elsewhere) or []],
            10,
            "the busy git to show up in /proc",
            poll=0.01,
        )
        assert [p.pid for p in live_git_processes(git_repo) or []] == []
    finally:
        busy.kill()
        busy.wait()
