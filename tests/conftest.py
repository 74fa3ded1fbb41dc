"""Shared fixtures: a throwaway content repository built from the project's own lessons."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
CONTENT = PROJECT / "content"


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
