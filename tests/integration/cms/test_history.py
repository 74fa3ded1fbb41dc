"""`fiml-cms tag --from-history` on the real corpus and on synthetic histories."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fiml_cms.cli import app
from fiml_cms.config import load_settings
from fiml_cms.store import ContentStore
from testing.cli import cli
from testing.repo import PROJECT, commit_all, git

runner = CliRunner()
BUNDLE = PROJECT.parent / "shared/corpus/fiml-lessons.bundle"
RENAMES = {
    "valuation_001": "stock_basics_005",
    "risk_001": "risk_management_001",
    "risk_002": "risk_management_002",
    "portfolio_001": "diversification_001",
    "income_001": "dividend_001",
    "market_concepts_001": "market_basics_001",
    "portfolio_002": "investing_strategy_001",
    "investment_strategies_001": "investing_strategy_002",
    "market_concepts_002": "market_basics_002",
    "tax_strategy_001": "tax_001",
}
VERSION_1 = {
    "stock_basics_001",
    "investment_strategies_001",
    "market_concepts_002",
    "economics_001",
    "tax_strategy_001",
    "investment_planning_001",
}


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if not BUNDLE.is_file():
        pytest.skip("the corpus bundle is not available")
    root = tmp_path / "corpus"
    subprocess.run(["git", "clone", "-q", str(BUNDLE), str(root)], check=True)
    monkeypatch.chdir(root)
    return root


def test_from_history_dry_run_on_the_corpus(corpus: Path) -> None:
    result = cli("tag", "--from-history", "--dry-run", "--lessons", ".")
    assert result.exit_code == 0, result.output
    tags = set(re.findall(r"^would create (\S+) at", result.output, re.M))
    assert {t for t in tags if t.endswith("/v1.0.0")} == {f"lesson/{i}/v1.0.0" for i in VERSION_1}
    two = {t for t in tags if t.endswith("/v2.0.0")}
    assert len(two) == 20
    assert "lesson/market_basics_001/v2.0.0" in two and "lesson/stock_basics_005/v2.0.0" in two
    assert len(tags) == 26  # nothing for commits where a lesson had no version yet
    renames = dict(re.findall(r"^rename: (\S+) -> (\S+) in", result.output, re.M))
    assert renames == RENAMES
    assert "add `replaces: [market_concepts_001]` to market_basics_001" in result.output
    assert git(corpus, "tag", "-l") == ""


def test_from_history_creates_tags_the_store_reads(corpus: Path) -> None:
    assert cli("tag", "--from-history", "--lessons", ".").exit_code == 0
    assert len(git(corpus, "tag", "-l").splitlines()) == 26
    date = git(
        corpus, "for-each-ref", "--format=%(creatordate:short)", "refs/tags/lesson/stock_basics_001/v1.0.0"
    )
    assert date == "2025-11-24"  # backdated to the commit that introduced the version
    again = cli("tag", "--from-history", "--dry-run", "--lessons", ".")
    assert (
        "0 tag(s) would create" in again.output
        and "already tagged: lesson/stock_basics_001/v1.0.0" in again.output
    )
    listing = cli("versions", "stock_basics_001", "--lessons", ".")
    assert [line.split()[0] for line in listing.output.splitlines()] == ["1.0.0", "2.0.0"]
    shown = runner.invoke(app, ["show", "market_concepts_002@1.0.0", "--lessons", "."])
    assert shown.exit_code == 0 and b"id: market_concepts_002" in shown.stdout_bytes
    # the store serves the legacy files at those tags, upgraded in memory
    store = ContentStore.open(corpus, load_settings(corpus, Path(".")))
    lesson = store.get("market_basics_001", "2.0.0")
    assert lesson.version == "2.0.0" and lesson.format == 1 and len(lesson.quiz.questions) >= 1
    assert all(store.latest(i).id == i for i in ("stock_basics_001", "tax_001", "risk_management_001"))


def test_from_history_refuses_a_shallow_clone(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{corpus}", str(shallow)], check=True)
    monkeypatch.chdir(shallow)
    result = cli("tag", "--from-history", "--dry-run", "--lessons", ".")
    assert result.exit_code == 1 and "shallow clone" in result.output


def test_invalid_yaml_at_one_commit_is_named(git_repo: Path) -> None:
    lesson = git_repo / "content/lessons/diversification.yaml"
    good = lesson.read_text(encoding="utf-8")
    lesson.write_text("id: [unclosed\n", encoding="utf-8")
    bad_commit = commit_all(git_repo, "broken")
    lesson.write_text(
        good.replace('version: "1.0.0"', 'version: "1.1.0"').replace(
            "changelog:\n", 'changelog:\n  - version: "1.1.0"\n    date: 2026-12-01\n    changes: [Fixed]\n'
        ),
        encoding="utf-8",
    )
    commit_all(git_repo, "fixed")
    result = cli("tag", "--from-history", "--dry-run")
    assert result.exit_code == 0
    assert (
        f"content/lessons/diversification.yaml at commit {bad_commit[:12]} is not valid YAML" in result.output
    )
    assert "would create lesson/diversification/v1.0.0" in result.output
    assert "would create lesson/diversification/v1.1.0" in result.output


def test_store_resolves_a_version_from_history_without_a_tag(git_repo: Path) -> None:
    store = ContentStore.open(git_repo)
    with pytest.raises(Exception, match="unknown lesson"):
        store.get("diversification", "1.0.0")
    assert cli("tag", "what_is_a_market").exit_code == 0
    store.refresh()
    assert store.latest("what_is_a_market").version == "1.0.0"
