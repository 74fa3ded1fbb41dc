"""A published version rewritten under learners (its tag force-moved to another commit; issue 21 item
14): a learner on a section that is gone continues at the first section that still exists at or after
their place, not the quiz, and the bot logs a warning that a published version changed."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from fiml_bot.tutor.events import ListLessons, Start
from testing.cli import cli
from testing.repo import commit_all, git, replace_in
from testing.tutor_driver import Learner, make_tutor, progress_of

MARKET = "what_is_a_market"
TAG = f"lesson/{MARKET}/v1.0.0"


def rewrite_published_version(repo: Path, *edits: tuple[str, str]) -> None:
    """Edit the lesson at the same version, commit, and force-move its tag to the new commit."""
    for old, new in edits:
        replace_in(repo / "content/lessons" / f"{MARKET}.yaml", old, new)
    commit_all(repo, "rewrite 1.0.0 in place")
    git(repo, "tag", "-f", "-a", TAG, "-m", "1.0.0 (moved)")


@pytest.fixture
def repo(market_published: Path) -> Path:
    return market_published


def test_a_renamed_section_keeps_the_learner_there_not_at_the_quiz(
    repo: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tutor, content = make_tutor(repo)
    ada = Learner(tutor)
    ada.send(Start())
    ada.send(ListLessons())
    ada.press("What Is a Market?")
    ada.press("Next")  # on "exchanges", "intro" done
    assert progress_of(tutor, ada.id, MARKET).current_section == "exchanges"

    rewrite_published_version(repo, ("  - id: exchanges\n", "  - id: venues\n"))
    content.refresh()
    with caplog.at_level(logging.WARNING, logger="fiml_bot.tutor"):
        ada.press("Next")  # the button under the section that is gone
    progress = progress_of(tutor, ada.id, MARKET)
    assert progress.status == "in_progress", progress
    assert progress.current_section == "venues" and progress.sections_done == ("intro",)
    assert "2/5" in ada.text  # the learner is shown where they are
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        "published version 1.0.0 of what_is_a_market changed" in w and "'exchanges'" in w for w in warnings
    ), warnings

    # The rest of the lesson still exists and is still taught, section by section.
    seen = []
    for _ in range(4):
        labels = " ".join(b.label for m in ada.last for b in m.all_buttons)
        ada.press("Next" if "Next" in labels else "Start the quiz")
        seen.append(progress_of(tutor, ada.id, MARKET).current_section)
    assert seen == ["participants", "price_discovery", "summary", None]
    assert progress_of(tutor, ada.id, MARKET).status == "quiz"


def test_done_sections_that_are_gone_are_dropped_and_the_place_kept(repo: Path) -> None:
    tutor, content = make_tutor(repo)
    ada = Learner(tutor)
    ada.send(Start())
    ada.send(ListLessons())
    ada.press("What Is a Market?")
    ada.press("Next")
    ada.press("Next")  # on "participants"; intro and exchanges done
    rewrite_published_version(repo, ("  - id: intro\n", "  - id: welcome\n"))
    content.refresh()
    ada.press("Next")
    progress = progress_of(tutor, ada.id, MARKET)
    assert progress.current_section == "price_discovery"  # the press counted: participants is done
    assert progress.sections_done == ("exchanges", "participants")
