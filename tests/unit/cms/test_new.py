"""`fiml-cms new`: a skeleton that validates, and refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from fiml_cms.cli import app

runner = CliRunner()


def test_new_lesson_is_valid(content_repo: Path) -> None:
    result = runner.invoke(app, ["new", "bond_basics", "--title", "Bonds: lending for interest"])
    assert result.exit_code == 0, result.output
    created = content_repo / "content/lessons/bond_basics.yaml"
    assert created.is_file()
    text = created.read_text(encoding="utf-8")
    assert 'title: "Bonds: lending for interest"' in text and 'version: "1.0.0"' in text
    check = runner.invoke(app, ["validate", str(created), "--format", "json"])
    assert check.exit_code == 0, check.output


@pytest.mark.parametrize("bad_id", ["../../etc/x", "Bond", "ab", "1abc", "a" * 65, "bond-basics"])
def test_new_refuses_invalid_id(content_repo: Path, bad_id: str) -> None:
    result = runner.invoke(app, ["new", bad_id, "--title", "T"])
    assert result.exit_code == 2
    assert "invalid lesson id" in result.output
    assert not list((content_repo / "content").rglob("*etc*"))


def test_new_refuses_existing_id(content_repo: Path) -> None:
    before = (content_repo / "content/lessons/diversification.yaml").read_bytes()
    result = runner.invoke(app, ["new", "diversification", "--title", "T"])
    assert result.exit_code == 2 and "already exists" in result.output
    assert (content_repo / "content/lessons/diversification.yaml").read_bytes() == before


def test_new_refuses_id_claimed_in_replaces(content_repo: Path) -> None:
    lesson = content_repo / "content/lessons/diversification.yaml"
    lesson.write_text(
        lesson.read_text(encoding="utf-8").replace("replaces: []", "replaces: [spreading_risk]"),
        encoding="utf-8",
    )
    result = runner.invoke(app, ["new", "spreading_risk", "--title", "T"])
    assert result.exit_code == 2 and "already claimed" in result.output


def test_new_refuses_bad_difficulty(content_repo: Path) -> None:
    result = runner.invoke(app, ["new", "bond_basics", "--title", "T", "--difficulty", "expert"])
    assert result.exit_code == 2
