"""Issue 10.8 (stale archive temp files) and 10.11 (file modes: kept on rewrite, normal for new files)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from fiml_cms import atomic
from testing.archive_repo import ARCHIVE, LESSONS, MARKET, with_two_releases
from testing.cli import cli
from testing.repo import commit_all


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def published(published: Path) -> Path:
    """13 published versions of the 11 lessons (`testing.archive_repo`)."""
    return with_two_releases(published)


@pytest.fixture
def umask_022() -> None:
    old = os.umask(0o022)
    yield
    os.umask(old)


# -- 10.8: stale temp files -------------------------------------------------------------------------


def leave_temp_files(root: Path) -> list[Path]:
    """What `kill -9` during `fiml-cms archive` leaves: the atomic writes' temp files."""
    assert cli("archive").exit_code == 0
    stale = [
        root / ARCHIVE / MARKET / ".1.1.0.yaml.k2j4x9_a.tmp",
        root / ARCHIVE / ".index.json.0a1b2c3d.tmp",
    ]
    for path in stale:
        path.write_bytes(b"half a fi")
    return stale


def test_check_reports_stale_temp_files(published: Path) -> None:
    stale = leave_temp_files(published)
    result = cli("archive", "--check")
    assert result.exit_code == 1
    for path in stale:
        assert (
            f"{path.relative_to(published).as_posix()}:1:1: error FIML073 a temporary file left by an interrupted `fiml-cms archive`"
            in result.stdout
        )


def test_the_next_run_removes_them(published: Path) -> None:
    stale = leave_temp_files(published)
    result = cli("archive")
    assert result.exit_code == 0
    assert "0 file(s) written, 13 unchanged, 2 stale temp file(s) removed" in result.stdout
    assert not any(path.exists() for path in stale)
    assert cli("archive", "--check").exit_code == 0


def test_a_running_archive_holds_the_lock_so_its_temp_files_are_not_reported(published: Path) -> None:
    from fiml_cms.commands.archive import run_lock

    leave_temp_files(published)
    with run_lock(published / ".git", wait=True):
        result = cli("archive", "--check")
    assert result.exit_code == 0, result.stdout


def test_files_that_merely_look_like_temp_files_are_left_alone(published: Path) -> None:
    assert cli("archive").exit_code == 0
    notes = published / ARCHIVE / "notes.tmp"
    notes.write_text("mine\n", encoding="utf-8")
    assert cli("archive").exit_code == 0
    assert notes.exists()


# -- 10.11: modes -----------------------------------------------------------------------------------


def test_bump_keeps_the_lesson_files_mode(published: Path, umask_022: None) -> None:
    lesson = published / LESSONS / f"{MARKET}.yaml"
    for wanted in (0o644, 0o664):
        lesson.chmod(wanted)
        assert cli("bump", MARKET, "patch", "-m", "Typo", "--date", "2026-12-20").exit_code == 0
        assert mode(lesson) == wanted
        commit_all(published, "bump")


def test_archive_files_get_the_normal_mode(published: Path, umask_022: None) -> None:
    assert cli("archive").exit_code == 0
    files = [p for p in (published / ARCHIVE).rglob("*") if p.is_file()]
    assert len(files) == 14
    assert {mode(p) for p in files} == {0o644}


def test_new_files_follow_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        atomic.write_bytes(tmp_path / "a.yaml", b"a: 1\n")
        atomic.create_bytes(tmp_path / "b.yaml", b"b: 1\n")
    finally:
        os.umask(old)
    assert mode(tmp_path / "a.yaml") == mode(tmp_path / "b.yaml") == 0o640


def test_new_lesson_files_are_not_private(content_repo: Path, umask_022: None) -> None:
    assert cli("new", "bond_basics", "--title", "Bonds").exit_code == 0
    assert mode(content_repo / LESSONS / "bond_basics.yaml") == 0o644
