"""Shared fixtures: a throwaway content repository built from the project's own lessons."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import settings

PROJECT = Path(__file__).resolve().parent.parent
CONTENT = PROJECT / "content"

#: Property tests without their own `max_examples` run as many examples as the profile says: a small
#: one for `make test`, a large one (`FIML_HYPOTHESIS_PROFILE=ci`, set by `.ci/run`) for CI.
HYPOTHESIS_PROFILE_VARIABLE = "FIML_HYPOTHESIS_PROFILE"
settings.register_profile("dev", max_examples=150, deadline=None)
settings.register_profile("ci", max_examples=1700, deadline=None)
settings.load_profile(os.environ.get(HYPOTHESIS_PROFILE_VARIABLE, "dev"))


@pytest.fixture
def content_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the bundled lessons and paths in tmp_path, marked as a repository root; cwd is set to it."""
    root = tmp_path / "repo"
    shutil.copytree(CONTENT / "lessons", root / "content" / "lessons")
    shutil.copytree(CONTENT / "paths", root / "content" / "paths")
    (root / ".fiml-cms.toml").write_text("# defaults\n", encoding="utf-8")
    monkeypatch.chdir(root)
    return root


def line_col_of(text: str, needle: str, occurrence: int = 1) -> tuple[int, int]:
    """1-based line and column where `needle` starts (its n-th occurrence) in `text`."""
    index = -1
    for _ in range(occurrence):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.invalid",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.invalid",
    "GIT_AUTHOR_DATE": "2026-01-02T03:04:05+00:00",
    "GIT_COMMITTER_DATE": "2026-01-02T03:04:05+00:00",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every git call in the tests (ours and GitPython's) uses a fixed identity and date and no user config.

    Tests start in their own empty folder, so a command run without a repository fixture can never
    reach the project's own repository.
    """
    _isolate_git(monkeypatch, tmp_path)
    monkeypatch.chdir(tmp_path)


def _isolate_git(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    for key, value in GIT_IDENTITY.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(folder.parent))


def git(cwd: Path, *args: str) -> str:
    import subprocess

    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def commit_all(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD")


@pytest.fixture(scope="session")
def git_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled lessons committed once per session (fixed identity and dates, so the same commit as
    a per-test build): `git_repo` copies its `.git` instead of running git init/add/commit each time."""
    root = tmp_path_factory.mktemp("git-template") / "repo"
    shutil.copytree(CONTENT / "lessons", root / "content" / "lessons")
    shutil.copytree(CONTENT / "paths", root / "content" / "paths")
    (root / ".fiml-cms.toml").write_text("# defaults\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        _isolate_git(patch, root.parent)
        git(root, "init", "-q", "-b", "main")
        commit_all(root, "Initial lessons")
    return root


def use_git_template(root: Path, template: Path) -> None:
    """Give the files at `root` (the same as the template's) the template's repository."""
    if (root / ".git").exists():
        shutil.rmtree(root / ".git")
    shutil.copytree(template / ".git", root / ".git", symlinks=True)


@pytest.fixture
def git_repo(content_repo: Path, git_template: Path) -> Path:
    """`content_repo` as a git repository with one commit (branch main), nothing tagged."""
    use_git_template(content_repo, git_template)
    return content_repo


def cli(*args: str):
    """Run `fiml-cms ARGS` through Typer's runner; a traceback fails the test."""
    from typer.testing import CliRunner

    from fiml_cms.cli import app

    result = CliRunner().invoke(app, list(args), env={"GITHUB_ACTIONS": "false"})
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def replace_in(path: Path, old: str, new: str) -> None:
    """Replace the first `old` in the file with `new` (which must be there)."""
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many generated lesson inputs the fuzz tests checked (the CI profile must reach 10,000)."""
    import sys

    fuzz = sys.modules.get("tests.test_fuzz")
    if fuzz is not None and any(fuzz.COUNTS.values()):
        total = sum(fuzz.COUNTS.values())
        parts = ", ".join(f"{n:,} {where}" for where, n in fuzz.COUNTS.items())
        terminalreporter.write_line(
            f"fuzzing: {total:,} generated lesson inputs ({parts}; hypothesis profile {settings._current_profile})"
        )
