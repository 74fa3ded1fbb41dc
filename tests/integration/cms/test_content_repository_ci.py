"""Issue 15.12: the CI a content repository uses installs fiml-cms itself, pinned, and runs
validate, check --base on pull requests and archive --check (the script the action runs, on real repositories)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from testing.cli import cli
from testing.repo import PROJECT, commit_all, git, replace_in

SCRIPT = PROJECT / ".github/scripts/content-check.sh"


def test_the_distribution_is_not_the_unrelated_fiml() -> None:
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] == "fiml-cms"
    assert project["scripts"] == {"fiml-cms": "fiml_cms.cli:main", "fiml-bot": "fiml_bot.entry:main"}
    assert "bot" in project["optional-dependencies"]  # the content tool installs without the bot


def test_the_action_installs_the_tool_from_its_own_pinned_ref_not_the_content_repository() -> None:
    action = yaml.safe_load((PROJECT / "action.yml").read_text(encoding="utf-8"))
    runs = "\n".join(step.get("run", "") for step in action["runs"]["steps"])
    assert 'pip install --disable-pip-version-check "$GITHUB_ACTION_PATH"' in runs
    assert "pip install ." not in runs
    assert ".github/scripts/content-check.sh" in runs and SCRIPT.is_file()
    assert action["inputs"]["base"]["default"] == "${{ github.event.pull_request.base.sha }}"
    example = yaml.safe_load((PROJECT / "docs/examples/lessons.yml").read_text(encoding="utf-8"))
    steps = example["jobs"]["check"]["steps"]
    assert steps[0]["with"]["fetch-depth"] == 0
    assert steps[1]["uses"].startswith("OWNER/fiml-cms@v")  # pinned to a release
    own = yaml.safe_load((PROJECT / ".github/workflows/content.yml").read_text(encoding="utf-8"))
    assert [s.get("uses") for s in own["jobs"]["check"]["steps"]][-1] == "./"
    assert "pip install ." not in (PROJECT / ".github/workflows/content.yml").read_text(encoding="utf-8")


def run_checks(root: Path, **env: str) -> subprocess.CompletedProcess[str]:
    tools = str(Path(sys.executable).parent)  # fiml-cms and python as the action installs them
    full = {**os.environ, "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}", "GITHUB_ACTIONS": "true", **env}
    return subprocess.run(
        ["bash", str(SCRIPT)], cwd=root, capture_output=True, text=True, env=full, timeout=300
    )


@pytest.fixture
def lessons_repo(git_repo: Path) -> Path:
    for lesson in ("what_is_a_market", "reading_stock_prices"):
        assert cli("tag", lesson).exit_code == 0
    assert cli("archive").exit_code == 0
    commit_all(git_repo, "archive")
    git(git_repo, "checkout", "-q", "-b", "change")
    return git_repo


def test_a_clean_pull_request_passes_every_check(lessons_repo: Path) -> None:
    done = run_checks(lessons_repo, FIML_BASE="main")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "fiml-cms 0.1.0" in done.stdout
    for command in ("fiml-cms validate", "fiml-cms check --base main", "fiml-cms archive --check"):
        assert f"::group::{command}" in done.stdout


def test_an_unbumped_change_fails_the_gate_with_an_annotation_and_the_other_checks_still_run(
    lessons_repo: Path,
) -> None:
    replace_in(
        lessons_repo / "content/lessons/what_is_a_market.yaml",
        "A farmers' market trades vegetables",
        "A farmers' market trades fruit",
    )
    commit_all(lessons_repo, "wording")
    (lessons_repo / "content/archive/what_is_a_market/1.0.0.yaml").write_text(
        "id: tampered\n", encoding="utf-8"
    )
    done = run_checks(lessons_repo, FIML_BASE="main")
    assert done.returncode == 1
    assert (
        "::error file=content/lessons/what_is_a_market.yaml,line=3," in done.stdout
        and "FIML060" in done.stdout
    )
    assert "FIML071" in done.stdout  # archive --check ran after the failed gate


def test_on_a_push_there_is_no_gate_and_a_missing_archive_is_skipped(git_repo: Path) -> None:
    done = run_checks(git_repo, FIML_BASE="")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "check --base" not in done.stdout and "archive --check skipped" in done.stdout


def test_a_bad_base_is_a_usage_error(lessons_repo: Path) -> None:
    done = run_checks(lessons_repo, FIML_BASE="no-such-ref")
    assert done.returncode == 2 and "unknown git ref 'no-such-ref'" in done.stderr
