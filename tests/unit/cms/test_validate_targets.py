"""Issue 10.2: naming a path that holds no lesson, or does not exist, is a usage error (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from testing.cli import cli


@pytest.mark.parametrize("target", ["bad/dir.yaml/", "bad/dir.yaml", "bad"])
def test_a_folder_without_lessons_is_a_usage_error(content_repo: Path, target: str) -> None:
    (content_repo / "bad" / "dir.yaml").mkdir(parents=True)
    (content_repo / "bad" / "notes.txt").write_text("not a lesson\n", encoding="utf-8")
    result = cli("validate", target)
    assert result.exit_code == 2
    assert "holds no lesson or path files" in result.stderr
    assert "files checked" not in result.stdout


@pytest.mark.parametrize("target", ["missing.yaml", "missing/", "content/lessons/missing.yaml"])
def test_a_missing_path_is_a_usage_error(content_repo: Path, target: str) -> None:
    result = cli("validate", target)
    assert result.exit_code == 2
    assert "no such file or folder" in result.stderr


def test_an_empty_configured_lessons_folder_is_still_fine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "fresh"
    (root / "content" / "lessons").mkdir(parents=True)
    (root / ".fiml-cms.toml").write_text("# defaults\n", encoding="utf-8")
    monkeypatch.chdir(root)
    assert cli("validate").exit_code == 0
    assert cli("validate", "content/lessons").exit_code == 0


def test_a_good_folder_among_the_targets_does_not_excuse_an_empty_one(content_repo: Path) -> None:
    (content_repo / "empty").mkdir()
    result = cli("validate", "content/lessons", "empty")
    assert result.exit_code == 2 and "empty: a folder that holds no lesson" in result.stderr
