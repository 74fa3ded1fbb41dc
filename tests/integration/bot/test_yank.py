"""Issue 15.7: yanking a published version, with a fix (`bump --yank`) or alone (`yank`), and what learners see."""

from __future__ import annotations

from pathlib import Path

import pytest

from fiml_bot.tutor.callbacks import encode
from fiml_bot.tutor.events import Pressed, Start
from testing.cli import cli
from testing.repo import commit_all, git, replace_in
from testing.tutor_driver import Learner, make_tutor, progress_of, xp_of

LESSON = "what_is_a_market"
FILE = Path("content/lessons/what_is_a_market.yaml")


@pytest.fixture
def published(git_repo: Path) -> Path:
    assert cli("tag", LESSON).exit_code == 0
    return git_repo


def fix(root: Path) -> None:
    replace_in(root / FILE, "ends near $560", "ends near $590")
    commit_all(root, "fix the example")


def test_bump_yank_publishes_the_fix_and_the_yank_together(published: Path) -> None:
    fix(published)
    result = cli(
        "bump", LESSON, "auto", "--yank", "1.0.0", "-m", "Corrected the chart example", "--commit", "--tag"
    )
    assert result.exit_code == 0, result.output
    assert (
        "1.0.0 -> 1.1.0 (minor; yanks 1.0.0)" in result.output
        and "tag lesson/what_is_a_market/v1.1.0" in result.output
    )
    text = (published / FILE).read_text(encoding="utf-8")
    assert 'yanked: ["1.0.0"]\n' in text
    assert git(published, "status", "--porcelain") == ""
    assert cli("validate").exit_code == 0
    versions = cli("versions", LESSON).output.splitlines()
    assert versions[0].endswith("YANKED") and not versions[1].endswith("YANKED")


def test_the_natural_flow_fix_list_in_yanked_then_bump_works(published: Path) -> None:
    replace_in(published / FILE, "ends near $560", "ends near $590")
    replace_in(published / FILE, "retired: false\n", 'retired: false\nyanked: ["1.0.0"]\n')
    validate = cli("validate", str(FILE))
    assert validate.exit_code == 1 and f"fiml-cms bump {LESSON} auto --yank 1.0.0" in validate.output
    diff = cli("diff", LESSON)
    assert diff.exit_code == 0, diff.output
    assert "required: minor" in diff.output
    bump = cli("bump", LESSON, "auto", "-m", "Corrected the chart example")
    assert bump.exit_code == 0, bump.output
    assert cli("validate").exit_code == 0


def test_yank_alone_withdraws_an_older_published_version(published: Path) -> None:
    fix(published)
    assert (
        cli("bump", LESSON, "minor", "-m", "Corrected the chart example", "--commit", "--tag").exit_code == 0
    )
    result = cli("yank", LESSON, "1.0.0", "--commit", "--tag")
    assert result.exit_code == 0, result.output
    assert "1.1.0 -> 1.1.1 (patch; yanks 1.0.0)" in result.output
    assert "Withdrew version 1.0.0 because of an error" in (published / FILE).read_text(encoding="utf-8")
    assert cli("yank", LESSON, "0.9.0").exit_code == 1  # never published
    assert "only a published version can be yanked" in cli("yank", LESSON, "0.9.0").output


def test_yank_of_a_yanked_version_says_so_and_writes_nothing(published: Path) -> None:
    fix(published)
    assert (
        cli("bump", LESSON, "minor", "-m", "Corrected the chart example", "--commit", "--tag").exit_code == 0
    )
    assert cli("yank", LESSON, "1.0.0", "--commit", "--tag").exit_code == 0
    before = (published / FILE).read_text(encoding="utf-8")
    again = cli("yank", LESSON, "1.0.0", "--commit", "--tag")
    assert again.exit_code == 0, again.output
    assert "1.0.0 is already yanked" in again.output and "nothing to bump" not in again.output
    assert (published / FILE).read_text(encoding="utf-8") == before
    assert git(published, "status", "--porcelain") == ""


def test_yank_refuses_to_republish_the_same_content(published: Path) -> None:
    result = cli("yank", LESSON, "1.0.0")
    assert result.exit_code == 1 and "the file has no fix yet" in result.output
    assert f"fiml-cms bump {LESSON} auto --yank 1.0.0" in result.output


def test_learners_on_a_yanked_version_restart_on_the_fix_keeping_xp(published: Path) -> None:
    tutor, content = make_tutor(published)
    ada = Learner(tutor)
    ada.send(Start())
    ada.send(Pressed(encode("o", LESSON)))
    ada.press("Next")
    before = xp_of(tutor, ada.id)
    fix(published)
    assert (
        cli(
            "bump",
            LESSON,
            "auto",
            "--yank",
            "1.0.0",
            "-m",
            "Corrected the chart example",
            "--commit",
            "--tag",
        ).exit_code
        == 0
    )
    content.refresh()
    ada.press("Next")
    assert (
        "version 1.0.0 was withdrawn because of an error" in ada.text
        and "restart on version 1.1.0" in ada.text
    )
    assert progress_of(tutor, ada.id, LESSON).pinned_version == "1.1.0"
    assert xp_of(tutor, ada.id) == before
