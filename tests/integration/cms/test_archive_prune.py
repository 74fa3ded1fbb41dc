"""Issue 15.11: `archive --prune` removes archived files that no published version backs."""

from __future__ import annotations

from pathlib import Path

from testing.cli import cli
from testing.repo import git

ARCHIVE = Path("content/archive")


def test_prune_removes_what_no_tag_backs_and_check_turns_green(git_repo: Path) -> None:
    for lesson in ("what_is_a_market", "diversification"):
        assert cli("tag", lesson).exit_code == 0
    assert cli("archive").exit_code == 0
    git(git_repo, "tag", "-d", "lesson/diversification/v1.0.0")  # withdrawn before anyone used it
    stray = git_repo / ARCHIVE / "what_is_a_market" / "0.9.0.yaml"
    stray.write_bytes(b"id: what_is_a_market\n")
    check = cli("archive", "--check")
    assert check.exit_code == 1 and "run `fiml-cms archive --prune` to remove it" in check.output
    assert (
        cli("archive").exit_code == 0 and cli("archive", "--check").exit_code == 1
    )  # plain archive leaves them
    result = cli("archive", "--prune")
    assert result.exit_code == 0, result.output
    assert ", 2 removed" in result.output and "removed " in result.output
    assert not stray.exists() and not (git_repo / ARCHIVE / "diversification").exists()
    assert (git_repo / ARCHIVE / "what_is_a_market" / "1.0.0.yaml").is_file()
    assert cli("archive", "--check").exit_code == 0


def test_prune_with_check_is_a_usage_error(git_repo: Path) -> None:
    result = cli("archive", "--check", "--prune")
    assert (
        result.exit_code == 2
        and "run `fiml-cms archive --prune`, then `fiml-cms archive --check`" in result.output
    )
