"""`fiml-cms check --base REF`: the pull-request gate on a real repository."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testing.cli import cli
from testing.repo import commit_all, git, line_col_of, replace_in

LESSON = Path("content/lessons/reading_stock_prices.yaml")


@pytest.fixture
def pr(git_repo: Path) -> Path:
    """A repository with everything published on main and a feature branch checked out."""
    for lesson in (git_repo / "content/lessons").glob("*.yaml"):
        assert cli("tag", lesson.stem).exit_code == 0
    git(git_repo, "checkout", "-q", "-b", "feature")
    return git_repo


def findings(*args: str) -> tuple[int, list[dict]]:
    result = cli("check", "--base", "main", "--format", "json", *args)
    return result.exit_code, json.loads(result.output)["findings"]


def version_position(root: Path) -> tuple[int, int]:
    line, col = line_col_of((root / LESSON).read_text(encoding="utf-8"), "version: ")
    return line, col + len("version: ")


def test_clean_branch_passes(pr: Path) -> None:
    assert findings() == (0, [])


def test_unbumped_change(pr: Path) -> None:
    replace_in(pr / LESSON, "It tells you where the stock", "It shows where the stock")
    code, found = findings()
    assert code == 1
    assert [(f["code"], f["line"], f["column"]) for f in found] == [("FIML060", *version_position(pr))]


def test_bump_too_small_in_every_format(pr: Path) -> None:
    replace_in(pr / LESSON, "    data: {symbol: AAPL,", "    data: {symbol: MSFT,")
    assert cli("bump", "reading_stock_prices", "patch", "-m", "x", "--force").exit_code == 0
    commit_all(pr, "new example")
    line, col = version_position(pr)
    code, found = findings("--head", "HEAD")
    assert code == 1 and [f["code"] for f in found] == ["FIML061"]
    text = cli("check", "--base", "main", "--format", "text").output
    assert f"{LESSON.as_posix()}:{line}:{col}: error FIML061 the changes require a minor bump" in text
    github = cli("check", "--base", "main", "--format", "github").output
    assert f"::error file={LESSON.as_posix()},line={line},col={col},title=FIML061::" in github
    sarif = json.loads(cli("check", "--base", "main", "--format", "sarif").output)
    assert sarif["runs"][0]["results"][0]["ruleId"] == "FIML061"


def test_enough_bump_passes(pr: Path) -> None:
    replace_in(pr / LESSON, "    data: {symbol: AAPL,", "    data: {symbol: MSFT,")
    assert cli("bump", "reading_stock_prices", "auto", "-m", "New example").exit_code == 0
    assert findings() == (0, [])


def test_lowered_version(pr: Path) -> None:
    replace_in(pr / LESSON, 'version: "1.0.0"', 'version: "0.9.0"')
    replace_in(pr / LESSON, '  - version: "1.0.0"', '  - version: "0.9.0"')
    _code, found = findings()
    assert "FIML062" in [f["code"] for f in found]


def test_version_raised_without_changelog_entry(pr: Path) -> None:
    replace_in(pr / LESSON, 'version: "1.0.0"', 'version: "1.0.1"')
    replace_in(pr / LESSON, "It tells you where the stock", "It shows where the stock")
    code, found = findings()
    assert code == 1
    assert "FIML032" in [f["code"] for f in found] or "FIML063" in [f["code"] for f in found]


def test_id_changed_without_replaces(pr: Path) -> None:
    source = pr / LESSON
    target = pr / "content/lessons/stock_quotes.yaml"
    git(pr, "mv", str(source), str(target))
    replace_in(pr / Path("content/lessons/stock_quotes.yaml"), "id: reading_stock_prices", "id: stock_quotes")
    replace_in(pr / Path("content/lessons/stock_quotes.yaml"), 'version: "1.0.0"', 'version: "2.0.0"')
    replace_in(
        pr / Path("content/lessons/stock_quotes.yaml"),
        "changelog:\n",
        'changelog:\n  - version: "2.0.0"\n    date: 2026-12-01\n    changes: [Renamed]\n',
    )
    for other in ("market_and_limit_orders", "candlestick_charts", "valuation_ratios"):
        p = Path(f"content/lessons/{other}.yaml")
        if "reading_stock_prices" in (pr / p).read_text(encoding="utf-8"):
            replace_in(pr / p, "reading_stock_prices", "stock_quotes")
    _, found = findings()
    assert "FIML064" in [f["code"] for f in found]
    replace_in(
        pr / Path("content/lessons/stock_quotes.yaml"), "replaces: []", "replaces: [reading_stock_prices]"
    )
    _code, found = findings()
    assert "FIML064" not in [f["code"] for f in found]


def test_deleting_a_published_lesson(pr: Path) -> None:
    (pr / "content/lessons/options_basics.yaml").unlink()
    code, found = findings()
    assert code == 1 and [f["code"] for f in found] == ["FIML065"]
    assert "retired: true" in found[0]["message"]


def test_unknown_base_is_a_clear_error(pr: Path) -> None:
    result = cli("check", "--base", "no-such-branch")
    assert result.exit_code == 2 and "unknown git ref 'no-such-branch'" in result.output


def test_rewriting_an_old_changelog_entry(pr: Path) -> None:
    replace_in(pr / LESSON, 'version: "1.0.0"', 'version: "1.0.1"')
    replace_in(pr / LESSON, '  - version: "1.0.0"', '  - version: "1.0.1"')
    code, found = findings()
    assert code == 1 and "FIML067" in [f["code"] for f in found]
