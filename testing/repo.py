"""Content repositories for tests: the project's paths, a fixed git identity, and small git/file helpers.

The fixtures that build repositories (`content_repo`, `git_template`, `git_repo`, `published_template`,
`published`) live in tests/conftest.py and use these; test modules import the helpers from here, never
from one another.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
CONTENT = PROJECT / "content"

#: Every git call in the tests (ours and GitPython's) runs with this identity and date and no user config,
#: so a repository built in one test is byte for byte the one built in another (templates rely on it).
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


def isolate_git(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Fixed identity and dates, no user config, and no repository found above `folder`."""
    for key, value in GIT_IDENTITY.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(folder.parent))


def copy_content(root: Path) -> Path:
    """The bundled lessons and paths at `root`, marked as a repository root (no git)."""
    shutil.copytree(CONTENT / "lessons", root / "content" / "lessons")
    shutil.copytree(CONTENT / "paths", root / "content" / "paths")
    (root / ".fiml-cms.toml").write_text("# defaults\n", encoding="utf-8")
    return root


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def commit_all(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD")


def use_git_template(root: Path, template: Path) -> None:
    """Give the files at `root` (the same as the template's) the template's repository: copying a
    prebuilt `.git` costs a fraction of running git init/add/commit/tag again."""
    if (root / ".git").exists():
        shutil.rmtree(root / ".git")
    shutil.copytree(template / ".git", root / ".git", symlinks=True)


def replace_in(path: Path, old: str, new: str) -> None:
    """Replace the first `old` in the file with `new` (which must be there)."""
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_col_of(text: str, needle: str, occurrence: int = 1) -> tuple[int, int]:
    """1-based line and column where `needle` starts (its n-th occurrence) in `text`."""
    index = -1
    for _ in range(occurrence):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column
