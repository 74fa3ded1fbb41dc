"""Issue 15.8 and 15.9: errors that name the real cause and say what to do."""

from __future__ import annotations

from pathlib import Path

from testing.cli import cli
from testing.repo import commit_all, replace_in

LESSONS = Path("content/lessons")
MARKET = LESSONS / "what_is_a_market.yaml"


# 15.8 -----------------------------------------------------------------------------------------
def test_a_broken_context_file_is_named_not_a_false_unknown_prerequisite(content_repo: Path) -> None:
    replace_in(content_repo / MARKET, "title: What Is a Market?", "title: What Is a Market: the start")
    result = cli("validate", str(LESSONS / "reading_stock_prices.yaml"))
    assert result.exit_code == 1
    assert "is not a lesson in this repository" not in result.output
    assert (
        f'prerequisite "what_is_a_market" cannot be checked: its file {MARKET.as_posix()} does not parse (its error is at 5:24)'
        in result.output
    )
    assert "fix that file first" in result.output


# 15.9 -----------------------------------------------------------------------------------------
def test_a_colon_in_a_value_gets_a_quoting_hint(content_repo: Path) -> None:
    replace_in(content_repo / MARKET, "title: What Is a Market?", "title: Bond Basics: the start")
    result = cli("validate", str(MARKET))
    assert (
        """FIML001 mapping values are not allowed in this context; quote a value that contains ': ' (title: "Bond Basics: the start")"""
        in result.output
    )


def test_an_over_indented_line_gets_an_indentation_hint(content_repo: Path) -> None:
    replace_in(content_repo / MARKET, "    title: Exchanges and brokers", "     title: Exchanges and brokers")
    result = cli("validate", str(MARKET))
    assert "check the indentation of this line" in result.output and "use spaces" in result.output


def test_a_misspelt_field_is_one_finding_with_the_likely_name(content_repo: Path) -> None:
    text = (content_repo / MARKET).read_text(encoding="utf-8")
    (content_repo / MARKET).write_text(
        text.replace("      explanation:", "      explenation:", 1), encoding="utf-8"
    )
    result = cli("validate", str(MARKET), "--format", "json")
    import json

    findings = json.loads(result.output)["findings"]
    assert [f["code"] for f in findings] == ["FIML021"]
    assert (
        "unknown field `explenation` in item 0 of `questions`; did you mean `explanation`?"
        in findings[0]["message"]
    )


def test_an_unknown_lesson_id_suggests_the_closest(git_repo: Path) -> None:
    result = cli("bump", "what_is_a_markt", "patch", "-m", "x")
    assert result.exit_code == 2 and "did you mean `what_is_a_market`?" in result.output
    replace_in(
        git_repo / LESSONS / "reading_stock_prices.yaml",
        "prerequisites: [what_is_a_market]",
        "prerequisites: [what_is_a_markt]",
    )
    result = cli("validate")
    assert (
        'prerequisite "what_is_a_markt" is not a lesson in this repository; did you mean `what_is_a_market`?'
        in result.output
    )


LEGACY = """\
id: bond_basics
title: Bond Basics
category: fixed_income
difficulty: beginner
sections:
  - type: introduction
    content: A bond is a loan you give to a government or a company.
quiz:
  - text: Is a bond a loan?
    type: true_false
    correct_answer: true
    explanation: A bond is a loan; its interest is the coupon.
    xp_reward: 10
"""


def test_validate_on_a_legacy_lesson_says_to_run_upgrade(content_repo: Path) -> None:
    path = content_repo / LESSONS / "bond_basics.yaml"
    path.write_text(LEGACY, encoding="utf-8")
    result = cli("validate", str(LESSONS / "bond_basics.yaml"))
    assert result.exit_code == 1
    assert (
        "this looks like a lesson in a legacy format; run `fiml-cms upgrade content/lessons/bond_basics.yaml`"
        in result.output
    )


def test_upgrade_takes_defaults_for_fields_the_legacy_format_lacks(content_repo: Path) -> None:
    path = content_repo / LESSONS / "bond_basics.yaml"
    path.write_text(LEGACY, encoding="utf-8")
    dry = cli("upgrade", str(LESSONS / "bond_basics.yaml"), "--dry-run")
    assert dry.exit_code == 1  # problems: no duration, no xp
    assert "give a default with --duration N" in dry.output and "give a default with --xp N" in dry.output
    assert path.read_text(encoding="utf-8") == LEGACY
    result = cli("upgrade", str(LESSONS / "bond_basics.yaml"), "--duration", "5", "--xp", "40")
    assert result.exit_code == 0, result.output
    text = path.read_text(encoding="utf-8")
    assert "duration_minutes: 5\n" in text and "xp_reward: 40\n" in text
    assert cli("validate", str(LESSONS / "bond_basics.yaml")).exit_code == 0


def test_tag_on_a_bumped_but_uncommitted_version_says_commit_it_first(git_repo: Path) -> None:
    assert cli("tag", "what_is_a_market").exit_code == 0
    replace_in(git_repo / MARKET, "A farmers' market trades vegetables", "A farmers' market trades fruit")
    commit_all(git_repo, "wording")
    assert cli("bump", "what_is_a_market", "patch", "-m", "Wording").exit_code == 0
    result = cli("tag", "what_is_a_market")
    assert result.exit_code == 1
    assert (
        "version 1.0.1 in content/lessons/what_is_a_market.yaml is not committed; commit it first"
        in result.output
    )
    assert "bump the version first" not in result.output
