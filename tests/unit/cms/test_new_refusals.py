"""Issue 15.13: `fiml-cms new` says what it accepts when it refuses."""

from __future__ import annotations

from pathlib import Path

from testing.cli import cli


def test_a_refused_category_says_what_a_category_may_be(content_repo: Path) -> None:
    result = cli("new", "bond_basics", "--title", "Bond Basics", "--category", "Fixed Income")
    assert result.exit_code == 2
    assert "invalid category 'Fixed Income'" in result.output
    assert (
        "lowercase letters, digits, '_' or '-'" in result.output
        and "`--category fixed_income`" in result.output
    )
    assert "categories in use: derivatives, fundamentals, orders, risk, technical_analysis" in result.output
    assert not (content_repo / "content/lessons/bond_basics.yaml").exists()
    assert cli("new", "bond_basics", "--title", "Bond Basics", "--category", "fixed_income").exit_code == 0


def test_a_refused_difficulty_lists_the_choices(content_repo: Path) -> None:
    result = cli("new", "bond_basics", "--title", "Bond Basics", "--difficulty", "Beginners")
    assert result.exit_code == 2
    assert "use one of beginner, intermediate, advanced; did you mean `beginner`?" in result.output
