"""Issue 10.13: `validate FILE` reads the other lessons' facts from a cache keyed by blob sha, never stale."""

from __future__ import annotations

import json
import marshal
from pathlib import Path

import pytest

from fiml_cms.context_cache import CACHE_FILE
from testing.cli import cli
from testing.repo import commit_all, git, replace_in

CANDLES = "content/lessons/candlestick_charts.yaml"  # prerequisites: [reading_stock_prices]
PREREQUISITE = Path("content/lessons/reading_stock_prices.yaml")


def cache_of(root: Path) -> dict:
    stamp, entries = marshal.loads((root / ".git" / CACHE_FILE).read_bytes())
    return {"stamp": stamp, "entries": entries}


def validate_one(root: Path):
    return cli("validate", CANDLES, "--format", "json")


def codes(result) -> list[str]:
    return [f["code"] for f in json.loads(result.stdout)["findings"]]


def test_the_cache_lives_under_git_and_holds_the_other_files(git_repo: Path) -> None:
    assert validate_one(git_repo).exit_code == 0
    entries = cache_of(git_repo)["entries"]
    total = len(list((git_repo / "content/lessons").glob("*.yaml"))) + len(
        list((git_repo / "content/paths").glob("*.yaml"))
    )
    assert len(entries) == total - 1  # every file but the one reported on
    assert git(git_repo, "status", "--porcelain") == ""  # nothing in the work tree


@pytest.mark.parametrize("how", ["unstaged", "staged", "committed"])
def test_an_edit_to_a_prerequisite_elsewhere_shows_at_once(git_repo: Path, how: str) -> None:
    assert validate_one(git_repo).exit_code == 0  # fills the cache
    replace_in(git_repo / PREREQUISITE, "id: reading_stock_prices", "id: reading_stock_quotes")
    (git_repo / PREREQUISITE).rename(git_repo / "content/lessons/reading_stock_quotes.yaml")
    if how != "unstaged":
        git(git_repo, "add", "-A")
    if how == "committed":
        commit_all(git_repo, "rename")
    result = validate_one(git_repo)
    assert result.exit_code == 1
    assert "FIML037" in codes(result)  # the prerequisite no longer exists


def test_a_retired_prerequisite_edited_in_place_is_seen(git_repo: Path) -> None:
    assert validate_one(git_repo).exit_code == 0
    replace_in(git_repo / PREREQUISITE, "retired: false", "retired: true")
    result = validate_one(git_repo)
    assert "FIML051" in codes(result)
    replace_in(
        git_repo / PREREQUISITE, "retired: true", "retired: false"
    )  # and back: the first entry is used again
    assert codes(validate_one(git_repo)) == []


def test_a_corrupt_or_foreign_cache_is_ignored_and_rewritten(git_repo: Path) -> None:
    assert validate_one(git_repo).exit_code == 0
    cache = git_repo / ".git" / CACHE_FILE
    for junk in (
        b"{not marshal",
        marshal.dumps(("another stamp", {"lesson:x": ("a", (), None)})),
        marshal.dumps([]),
        b"",
    ):
        cache.write_bytes(junk)
        assert validate_one(git_repo).exit_code == 0
        assert cache_of(git_repo)["entries"]


def test_results_equal_validation_without_a_cache(git_repo: Path, content_repo: Path) -> None:
    replace_in(
        git_repo / "content/lessons/diversification.yaml",
        "prerequisites: [risk_and_return]",
        "prerequisites: [risk_and_reward]",
    )
    with_cache = [
        cli("validate", str(p.relative_to(git_repo)), "--format", "json").stdout
        for p in sorted((git_repo / "content/lessons").glob("*.yaml"))
    ]
    again = [
        cli("validate", str(p.relative_to(git_repo)), "--format", "json").stdout
        for p in sorted((git_repo / "content/lessons").glob("*.yaml"))
    ]
    (git_repo / ".git" / CACHE_FILE).unlink()
    import shutil

    shutil.move(str(git_repo / ".git"), str(git_repo.parent / "git-away"))  # no repository: no cache at all
    without = [
        cli("validate", str(p.relative_to(git_repo)), "--format", "json").stdout
        for p in sorted((git_repo / "content/lessons").glob("*.yaml"))
    ]
    assert with_cache == again == without
    assert any('"FIML037"' in out for out in without)


def test_a_cycle_through_the_named_file_is_found_from_that_file_alone(git_repo: Path) -> None:
    assert validate_one(git_repo).exit_code == 0
    replace_in(
        git_repo / PREREQUISITE, "prerequisites: [what_is_a_market]", "prerequisites: [candlestick_charts]"
    )
    result = validate_one(git_repo)  # candlestick_charts -> reading_stock_prices -> candlestick_charts
    assert codes(result) == ["FIML038"]
