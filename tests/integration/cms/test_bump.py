"""`fiml-cms bump`, `diff`, `versions`, `show` and `tag` on real repositories made in tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fiml_cms.cli import app
from testing.cli import cli
from testing.repo import commit_all, git, replace_in

runner = CliRunner()
LESSON = Path("content/lessons/reading_stock_prices.yaml")


@pytest.fixture
def published(git_repo: Path) -> Path:
    assert cli("tag", "reading_stock_prices").exit_code == 0
    return git_repo


def test_bump_changes_only_version_and_changelog(published: Path) -> None:
    replace_in(published / LESSON, "It tells you where the stock", "It shows where the stock")
    commit_all(published, "wording")
    before = (published / LESSON).read_bytes()
    result = cli(
        "bump", "reading_stock_prices", "patch", "-m", "Clearer wording: last price", "--date", "2026-12-01"
    )
    assert result.exit_code == 0, result.output
    assert "1.0.0 -> 1.0.1 (patch)" in result.output
    after = (published / LESSON).read_bytes()
    old_lines, new_lines = before.decode().splitlines(True), after.decode().splitlines(True)
    assert [line for line in old_lines if line not in new_lines] == ['version: "1.0.0"\n']
    added = [line for line in new_lines if line not in old_lines]
    assert added == [
        'version: "1.0.1"\n',
        '  - version: "1.0.1"\n',
        "    date: 2026-12-01\n",
        "    changes:\n",
        '      - "Clearer wording: last price"\n',
    ]
    assert cli("validate", str(LESSON)).exit_code == 0


def test_bump_keeps_crlf_and_comments(published: Path) -> None:
    path = published / LESSON
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    result = cli("bump", str(LESSON), "major", "-m", "Rewritten", "--force")
    assert result.exit_code == 0, result.output
    data = path.read_bytes()
    assert b'version: "2.0.0"\r\n' in data and b"\n" not in data.replace(b"\r\n", b"")
    assert data.startswith(b"# Foundations track, lesson 2\r\n")


def test_auto_takes_the_level_from_diff(published: Path) -> None:
    replace_in(published / LESSON, "    data: {symbol: AAPL,", "    data: {symbol: MSFT,")
    diff = cli("diff", "reading_stock_prices", "--format", "json")
    assert json.loads(diff.output)["required"] == "minor"
    result = cli("bump", "reading_stock_prices", "auto", "-m", "New example")
    assert result.exit_code == 0 and "1.0.0 -> 1.1.0 (minor)" in result.output


def test_refuses_a_level_below_the_required_one(published: Path) -> None:
    replace_in(published / LESSON, "  - id: volume\n", "  - id: volume_and_liquidity\n")
    before = (published / LESSON).read_bytes()
    result = cli("bump", "reading_stock_prices", "patch", "-m", "x")
    assert result.exit_code == 1
    assert "require a major bump, not patch" in result.output
    assert (published / LESSON).read_bytes() == before
    forced = cli("bump", "reading_stock_prices", "patch", "-m", "x", "--force")
    assert forced.exit_code == 0 and "1.0.1" in forced.output


def test_a_tag_on_a_commit_with_another_version_is_named(published: Path) -> None:
    git(published, "tag", "-a", "lesson/reading_stock_prices/v1.0.1", "-m", "someone else")
    result = cli("bump", "reading_stock_prices", "patch", "-m", "x")
    assert result.exit_code == 1
    assert "lesson/reading_stock_prices/v1.0.1: the file there has version 1.0.0, not 1.0.1" in result.output


def test_commit_and_tag(published: Path) -> None:
    replace_in(published / LESSON, "It tells you where the stock", "It shows where the stock")
    commit_all(published, "wording")
    result = cli(
        "bump",
        "reading_stock_prices",
        "auto",
        "-m",
        "Clearer wording",
        "--date",
        "2026-12-01",
        "--commit",
        "--tag",
    )
    assert result.exit_code == 0, result.output
    assert git(published, "status", "--porcelain") == ""
    assert git(published, "cat-file", "-t", "lesson/reading_stock_prices/v1.0.1") == "tag"
    assert (
        git(published, "tag", "-l", "--format=%(contents)", "lesson/reading_stock_prices/v1.0.1")
        == "1.0.1 (2026-12-01)\n\n- Clearer wording"
    )
    assert git(published, "rev-list", "-n1", "lesson/reading_stock_prices/v1.0.1") == git(
        published, "rev-parse", "HEAD"
    )
    listing = json.loads(cli("versions", "reading_stock_prices", "--format", "json").output)
    assert [v["version"] for v in listing["versions"]] == ["1.0.0", "1.0.1"]


def test_commit_refuses_a_dirty_file(published: Path) -> None:
    replace_in(published / LESSON, "It tells you where the stock", "It shows where the stock")
    result = cli("bump", "reading_stock_prices", "patch", "-m", "x", "--commit")
    assert result.exit_code == 1 and "uncommitted changes" in result.output
    assert 'version: "1.0.0"' in (published / LESSON).read_text(encoding="utf-8")


def test_commit_refuses_a_detached_head(published: Path) -> None:
    git(published, "checkout", "-q", "--detach")
    result = cli("bump", "reading_stock_prices", "patch", "-m", "x", "--commit", "--force")
    assert result.exit_code == 1 and "detached" in result.output


def test_dry_run_writes_nothing(published: Path) -> None:
    before = (published / LESSON).read_bytes()
    result = cli("bump", "reading_stock_prices", "minor", "-m", "x", "--dry-run")
    assert result.exit_code == 0
    assert '+version: "1.1.0"' in result.output and "[dry run" in result.output
    assert (published / LESSON).read_bytes() == before


@pytest.mark.parametrize(
    "args,message",
    [
        (["nope_lesson", "patch", "-m", "x"], "unknown lesson 'nope_lesson'"),
        (["reading_stock_prices", "huge", "-m", "x"], "unknown level"),
        (["reading_stock_prices", "patch"], "at least one"),
        (["reading_stock_prices", "patch", "-m", "x", "--date", "12/01/2026"], "--date must be YYYY-MM-DD"),
        (["reading_stock_prices", "patch", "-m", "x", "--tag"], "--tag needs --commit"),
    ],
)
def test_bump_errors(published: Path, args: list[str], message: str) -> None:
    result = cli("bump", *args)
    assert result.exit_code in (1, 2) and message in result.output


def test_auto_with_nothing_changed(published: Path) -> None:
    result = cli("bump", "reading_stock_prices", "auto", "-m", "x")
    assert result.exit_code == 1 and "nothing to bump" in result.output


def test_show_prints_the_tagged_bytes(published: Path) -> None:
    tagged = (published / LESSON).read_bytes()
    replace_in(published / LESSON, "It tells you where the stock", "It shows where the stock")
    result = runner.invoke(app, ["show", "reading_stock_prices@1.0.0"])
    assert result.exit_code == 0 and result.stdout_bytes == tagged


@pytest.mark.parametrize(
    "spec,message",
    [
        ("reading_stock_prices@9.9.9", "has no version 9.9.9"),
        ("nope_lesson@1.0.0", "unknown lesson"),
        ("reading_stock_prices", "LESSON@VERSION"),
    ],
)
def test_show_errors(published: Path, spec: str, message: str) -> None:
    result = cli("show", spec)
    assert result.exit_code in (1, 2) and message in result.output


def test_tag_refuses_an_existing_tag(published: Path) -> None:
    result = cli("tag", "reading_stock_prices")
    assert result.exit_code == 1 and "already exists" in result.output


def test_diff_between_versions_and_refs(published: Path) -> None:
    replace_in(published / LESSON, "  - id: volume\n", "  - id: volume_and_liquidity\n")
    commit_all(published, "rename section")
    text = cli("diff", "reading_stock_prices", "1.0.0", "HEAD").output
    assert "section volume removed" in text and "section volume_and_liquidity added" in text
    assert text.rstrip().endswith("required: major")
    same = cli("diff", "reading_stock_prices", "HEAD", "worktree").output
    assert "(no changes)" in same and "required: none" in same


def test_a_failure_between_commit_and_tag_says_how_to_finish(
    published: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fiml_cms.errors import ContentError
    from fiml_cms.gitrepo import GitRepo

    def refuse(self, name, commit, message, date=None):
        raise ContentError("git tag failed: simulated")

    real = GitRepo.create_tag
    monkeypatch.setattr(GitRepo, "create_tag", refuse)
    result = cli("bump", "reading_stock_prices", "patch", "-m", "x", "--force", "--commit", "--tag")
    assert result.exit_code == 1
    head = git(published, "rev-parse", "HEAD")[:12]
    assert f"committed {head} but could not create tag lesson/reading_stock_prices/v1.0.1" in result.output
    assert "To finish: `fiml-cms tag reading_stock_prices`" in result.output
    assert f"To undo the commit: `git reset --hard {head}~1`" in result.output
    monkeypatch.setattr(GitRepo, "create_tag", real)
    assert cli("tag", "reading_stock_prices").exit_code == 0
    assert git(published, "rev-list", "-n1", "lesson/reading_stock_prices/v1.0.1") == git(
        published, "rev-parse", "HEAD"
    )
