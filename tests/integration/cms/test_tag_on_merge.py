"""Issue 22, "tag on merge": the script the fiml-cms action runs on a push to the release branch tags
every lesson version new on it and pushes the tags, idempotently (run on real repositories)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from testing.cli import cli
from testing.repo import PROJECT, commit_all, git, replace_in

SCRIPT = PROJECT / ".github/scripts/tag-on-merge.sh"
LESSON = "what_is_a_market"


def run_script(root: Path) -> subprocess.CompletedProcess[str]:
    tools = str(Path(sys.executable).parent)  # fiml-cms as the action installs it
    env = {**os.environ, "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        ["bash", str(SCRIPT)], cwd=root, capture_output=True, text=True, env=env, timeout=300
    )


def test_a_merged_bump_is_tagged_and_pushed_once(published: Path, tmp_path: Path) -> None:
    remote = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    git(published, "remote", "add", "origin", str(remote))
    git(published, "push", "-q", "--follow-tags", "origin", "main")
    # An author's pull request: a bump without a tag, merged on the server.
    git(published, "switch", "-q", "-c", "wording")
    replace_in(
        published / f"content/lessons/{LESSON}.yaml",
        "      A market is any place",
        "      A market is a place",
    )
    commit_all(published, "Wording")
    assert cli("bump", LESSON, "auto", "-m", "Wording", "--commit").exit_code == 0
    git(published, "switch", "-q", "main")
    git(published, "merge", "-q", "--no-ff", "-m", "Merge wording", "wording")
    git(published, "push", "-q", "origin", "main")
    # CI: a fresh clone of the pushed branch.
    ci = tmp_path / "ci"
    git(tmp_path, "clone", "-q", str(remote), str(ci))
    first = run_script(ci)
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"created lesson/{LESSON}/v1.0.1" in first.stdout and "1 tag(s) created" in first.stdout
    assert git(remote, "tag", "-l", f"lesson/{LESSON}/v1.0.1") == f"lesson/{LESSON}/v1.0.1"
    again = run_script(ci)  # the next push, or a rerun: nothing new
    assert again.returncode == 0 and "0 tag(s) created, 11 version(s) already tagged" in again.stdout
    # The author's clone sees the version published once it fetches.
    git(published, "fetch", "-q", "--tags", "origin")
    listed = cli("versions", LESSON)
    assert "1.0.1" in listed.output and "PENDING" not in listed.output
