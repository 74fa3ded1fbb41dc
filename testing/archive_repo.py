"""A content repository with published versions to archive: 13 versions of the 11 bundled lessons."""

from __future__ import annotations

import subprocess
from pathlib import Path

from fiml_cms import yamlfile
from testing.cli import cli
from testing.repo import commit_all

LESSONS = Path("content/lessons")
ARCHIVE = Path("content/archive")
MARKET = "what_is_a_market"
TAG_DATE = "2026-01-02T03:04:05+00:00"  # GIT_COMMITTER_DATE of the test environment


def git_bytes(cwd: Path, *args: str) -> bytes:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=True).stdout


def git_text(cwd: Path, *args: str) -> str:
    return git_bytes(cwd, *args).decode().strip()


def tags(root: Path) -> list[str]:
    return git_text(root, "for-each-ref", "--format=%(refname:strip=2)", "refs/tags/lesson/").splitlines()


def release(root: Path, lesson_id: str, version: str) -> None:
    path = root / LESSONS / f"{lesson_id}.yaml"
    path.write_text(
        yamlfile.bump_text(path.read_text(encoding="utf-8"), version, "2026-12-15", [f"Release {version}"]),
        encoding="utf-8",
    )
    commit_all(root, f"{lesson_id} {version}")
    assert cli("tag", lesson_id).exit_code == 0


def with_two_releases(published: Path) -> Path:
    """All 11 lessons tagged at 1.0.0 (the `published` fixture), two of them released again: 13 versions."""
    release(published, MARKET, "1.1.0")
    release(published, "risk_and_return", "2.0.0")
    assert len(tags(published)) == 13
    return published
