"""`fiml-cms archive` (and `--check`) on real repositories made in tmp_path."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fiml_cms import yamlfile
from fiml_cms.cli import app
from testing.archive_repo import (
    ARCHIVE,
    LESSONS,
    MARKET,
    TAG_DATE,
    git_bytes,
    git_text,
    release,
    tags,
    with_two_releases,
)
from testing.cli import cli
from testing.repo import commit_all

runner = CliRunner()


@pytest.fixture
def published(published: Path) -> Path:
    """The session's published template (11 lessons at 1.0.0), two of them with a later version."""
    return with_two_releases(published)


def archive_files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def expected_files(root: Path) -> dict[str, bytes]:
    files = {}
    for name in tags(root):
        _, lesson_id, version = name.split("/")
        files[f"{lesson_id}/{version.removeprefix('v')}.yaml"] = git_bytes(
            root, "show", f"{name}:{LESSONS}/{lesson_id}.yaml"
        )
    return files


def test_archive_writes_every_version_byte_identical(published: Path) -> None:
    result = cli("archive")
    assert result.exit_code == 0, result.output
    assert "14 file(s) written, 0 unchanged" in result.output  # 13 versions + index.json
    files = archive_files(published / ARCHIVE)
    index = files.pop("index.json")
    assert files == expected_files(published)
    assert files[f"{MARKET}/1.0.0.yaml"] != files[f"{MARKET}/1.1.0.yaml"]
    assert json.loads(index)["schema"] == 1


def test_index_json(published: Path) -> None:
    assert cli("archive").exit_code == 0
    raw = (published / ARCHIVE / "index.json").read_text(encoding="utf-8")
    document = json.loads(raw)
    assert set(document) == {"schema", "lessons"} and document["schema"] == 1
    assert raw.endswith("}\n") and raw == json.dumps(document, indent=2, sort_keys=True) + "\n"
    lessons = document["lessons"]
    assert sorted(lessons) == sorted(p.stem for p in (published / LESSONS).glob("*.yaml"))
    assert sorted(lessons[MARKET]) == ["1.0.0", "1.1.0"] and sorted(lessons["risk_and_return"]) == [
        "1.0.0",
        "2.0.0",
    ]
    for name in tags(published):
        _, lesson_id, version = name.split("/")
        entry = lessons[lesson_id][version.removeprefix("v")]
        assert entry == {
            "blob": git_text(published, "rev-parse", f"{name}:{LESSONS}/{lesson_id}.yaml"),
            "commit": git_text(published, "rev-parse", f"{name}^{{commit}}"),
            "date": TAG_DATE,
            "tag": name,
        }


def test_archive_is_idempotent(published: Path) -> None:
    assert cli("archive").exit_code == 0
    folder = published / ARCHIVE
    before = {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}
    result = cli("archive")
    assert result.exit_code == 0, result.output
    assert "0 file(s) written, 13 unchanged" in result.output
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()} == before
    release(published, "diversification", "1.0.1")
    result = cli("archive")
    assert (
        "1 file(s) written" not in result.output and "2 file(s) written, 13 unchanged" in result.output
    )  # new file + index
    assert (folder / "diversification" / "1.0.1.yaml").is_file()


def test_check_in_sync(published: Path) -> None:
    assert cli("archive").exit_code == 0
    result = cli("archive", "--check")
    assert result.exit_code == 0, result.output
    assert "13 files checked: 0 error(s)" in result.output
    result = cli("archive", "--check", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.output) == {
        "schema": "fiml-cms/archive",
        "version": 1,
        "files": 13,
        "errors": 0,
        "warnings": 0,
        "findings": [],
    }


@pytest.fixture
def drifted(published: Path) -> Path:
    """An archive with a missing, a differing and an extra file (index.json still in sync)."""
    assert cli("archive").exit_code == 0
    folder = published / ARCHIVE
    (folder / MARKET / "1.0.0.yaml").unlink()
    changed = folder / "risk_and_return" / "2.0.0.yaml"
    changed.write_bytes(changed.read_bytes() + b"# edited by hand\n")
    (folder / "diversification" / "0.9.0.yaml").write_bytes(b"id: diversification\n")
    return published


MISSING = f"content/archive/{MARKET}/1.0.0.yaml"
DIFFERS = "content/archive/risk_and_return/2.0.0.yaml"
EXTRA = "content/archive/diversification/0.9.0.yaml"


def test_check_text(drifted: Path) -> None:
    result = cli("archive", "--check")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert (
        f"{MISSING}:1:1: error FIML070 missing archive file for published {MARKET}@1.0.0 (run `fiml-cms archive`) [$]"
        in lines
    )
    assert any(
        line.startswith(f"{DIFFERS}:1:1: error FIML071 differs from the published blob ")
        and "of risk_and_return@2.0.0" in line
        for line in lines
    )
    assert (
        f"{EXTRA}:1:1: error FIML072 is not a published version (no tag): run `fiml-cms archive --prune` to remove it, or publish that version [$]"
        in lines
    )
    assert lines[-1].endswith(
        " files checked: 3 error(s), 0 warning(s)"
    )  # the count is of in-sync files only


def test_check_json(drifted: Path) -> None:
    result = cli("archive", "--check", "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["errors"] == 3 and report["warnings"] == 0
    assert sorted((f["code"], f["file"], f["severity"]) for f in report["findings"]) == [
        ("FIML070", MISSING, "error"),
        ("FIML071", DIFFERS, "error"),
        ("FIML072", EXTRA, "error"),
    ]


def test_check_github(drifted: Path) -> None:
    result = cli("archive", "--check", "--format", "github")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert len(lines) == 3
    for code, file in (("FIML070", MISSING), ("FIML071", DIFFERS), ("FIML072", EXTRA)):
        assert any(line.startswith(f"::error file={file},line=1,col=1,title={code}::") for line in lines), (
            code,
            lines,
        )


def test_check_github_is_the_default_in_actions(drifted: Path) -> None:
    result = runner.invoke(app, ["archive", "--check"], env={"GITHUB_ACTIONS": "true"})
    assert result.exit_code == 1 and result.output.startswith("::error file=")


def test_check_reports_a_stale_index_and_a_missing_archive(published: Path) -> None:
    result = cli("archive", "--check")
    assert result.exit_code == 1
    assert (
        result.output.count("FIML070") == 13
        and "content/archive/index.json:1:1: error FIML071 index.json is missing" in result.output
    )
    assert cli("archive").exit_code == 0
    release(published, "diversification", "1.0.1")
    result = cli("archive", "--check")
    assert result.exit_code == 1
    assert "FIML070 missing archive file for published diversification@1.0.1" in result.output
    assert "index.json is missing or out of date" in result.output
    assert cli("archive").exit_code == 0 and cli("archive", "--check").exit_code == 0


def test_archive_rewrites_a_differing_file(published: Path) -> None:
    assert cli("archive").exit_code == 0
    path = published / ARCHIVE / MARKET / "1.1.0.yaml"
    good = path.read_bytes()
    path.write_bytes(b"tampered\n")
    result = cli("archive")
    assert "1 file(s) written, 12 unchanged" in result.output
    assert path.read_bytes() == good


def test_out_folder(published: Path, tmp_path: Path) -> None:
    out = tmp_path / "elsewhere" / "archive"
    result = cli("archive", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert not (published / ARCHIVE).exists()
    files = archive_files(out)
    assert "index.json" in files
    files.pop("index.json")
    assert files == expected_files(published)
    assert cli("archive", "--check", "--out", str(out)).exit_code == 0
    assert cli("archive", "--check").exit_code == 1  # the default folder was never written
    relative = cli("archive", "--out", "rel_archive")
    assert relative.exit_code == 0 and (published / "rel_archive" / "index.json").is_file()


def test_interrupted_run_leaves_no_partial_file(published: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fiml_cms.atomic

    real_replace = os.replace
    calls = []

    def failing_replace(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device (simulated)")
        return real_replace(src, dst)

    monkeypatch.setattr(fiml_cms.atomic.os, "replace", failing_replace)
    result = runner.invoke(app, ["archive"])
    assert result.exit_code == 1 and "No space left on device" in result.output  # a message, not a traceback
    monkeypatch.setattr(fiml_cms.atomic.os, "replace", real_replace)

    folder = published / ARCHIVE
    left = [p for p in folder.rglob("*") if p.is_file()]
    assert not [p for p in left if p.name.endswith(".tmp")]
    expected = expected_files(published)
    failed = Path(calls[1]).relative_to(folder).as_posix()
    assert failed not in {p.relative_to(folder).as_posix() for p in left}
    for path in left:  # whatever exists is complete
        assert path.read_bytes() == expected[path.relative_to(folder).as_posix()]
    assert not (folder / "index.json").exists()

    result = cli("archive")
    assert (
        result.exit_code == 0 and f"{14 - len(left)} file(s) written, {len(left)} unchanged" in result.output
    )
    assert cli("archive", "--check").exit_code == 0
    assert not list(folder.rglob("*.tmp"))


def test_interrupted_rewrite_keeps_the_old_file_whole(
    published: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fiml_cms.atomic

    assert cli("archive").exit_code == 0
    path = published / ARCHIVE / MARKET / "1.1.0.yaml"
    path.write_bytes(b"hand edited\n")

    real_replace = os.replace

    def failing_replace(src, dst):
        raise OSError(5, "I/O error (simulated)")

    monkeypatch.setattr(fiml_cms.atomic.os, "replace", failing_replace)
    failed = runner.invoke(app, ["archive"])
    assert failed.exit_code == 1 and "I/O error (simulated)" in failed.output
    monkeypatch.setattr(fiml_cms.atomic.os, "replace", real_replace)
    assert path.read_bytes() == b"hand edited\n"
    assert not list(path.parent.glob("*.tmp")) and not list(path.parent.glob(".*"))
