"""Issue 15.6: renames (`git mv`, new id, `replaces: [old]`) followed by diff, bump, check and the bot.

They agree: a rename with no content change is not a new edition.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fiml_bot.tutor.callbacks import encode
from fiml_bot.tutor.events import Pressed, Start
from testing.cli import cli
from testing.repo import commit_all, git, replace_in
from testing.tutor_driver import Learner, make_tutor, progress_of

OLD, NEW = "what_is_a_market", "markets_101"
LESSONS = Path("content/lessons")


@pytest.fixture
def published(git_repo: Path) -> Path:
    """what_is_a_market published at 1.0.0 and 1.0.1; then a branch `rename` is checked out."""
    assert cli("tag", OLD).exit_code == 0
    replace_in(
        git_repo / LESSONS / f"{OLD}.yaml",
        "A farmers' market trades vegetables",
        "A farmers' market trades fruit",
    )
    commit_all(git_repo, "wording")
    assert cli("bump", OLD, "patch", "-m", "Wording", "--commit", "--tag").exit_code == 0
    git(git_repo, "checkout", "-q", "-b", "rename")
    return git_repo


def rename(root: Path) -> Path:
    git(root, "mv", str(LESSONS / f"{OLD}.yaml"), str(LESSONS / f"{NEW}.yaml"))
    path = root / LESSONS / f"{NEW}.yaml"
    replace_in(path, f"id: {OLD}", f"id: {NEW}")
    replace_in(path, "replaces: []", f"replaces: [{OLD}]")
    return path  # other lessons' prerequisites and the paths may keep the old id: it resolves to the new one


def test_diff_follows_replaces_to_the_old_ids_versions(published: Path) -> None:
    rename(published)
    result = cli("diff", NEW)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"{NEW}: {OLD}@1.0.1 -> working tree"
    assert (
        "renamed from what_is_a_market to markets_101" in result.output and "required: none" in result.output
    )
    result = cli("diff", NEW, "1.0.0")
    assert result.exit_code == 0, result.output
    assert f"{OLD}@1.0.0 -> working tree" in result.output and "required: minor" not in result.output


def test_bump_auto_says_a_rename_needs_no_bump_and_check_agrees(published: Path) -> None:
    rename(published)
    bump = cli("bump", NEW, "auto", "-m", "Renamed")
    assert bump.exit_code == 1
    assert f"no content changes since {OLD}@1.0.1: a rename alone is not a new edition" in bump.output
    assert f"`fiml-cms tag {NEW}`" in bump.output
    assert cli("check", "--base", "main").exit_code == 0  # no FIML060 "major bump" demand
    commit_all(published, "rename")
    assert cli("tag", NEW).exit_code == 1  # off the release branch: it would publish before review
    assert cli("tag", NEW, "--pending").exit_code == 0
    check = cli("check", "--base", "main")
    assert check.exit_code == 0, check.output


def test_a_rename_with_content_changes_needs_the_level_of_those_changes(published: Path) -> None:
    path = rename(published)
    replace_in(path, "  - id: exchanges\n", "  - id: venues\n")  # a removed section: major
    diff = cli("diff", NEW)
    assert "required: major" in diff.output
    check = cli("check", "--base", "main")
    assert check.exit_code == 1 and "FIML060" in check.output and "major change" in check.output
    assert cli("bump", NEW, "auto", "-m", "Renamed and rewritten").exit_code == 0
    assert 'version: "2.0.0"' in path.read_text(encoding="utf-8")
    assert cli("check", "--base", "main").exit_code == 0


def test_check_pairs_a_rename_git_did_not_detect(published: Path) -> None:
    path = rename(published)
    text = path.read_text(encoding="utf-8")
    path.write_text(
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
        + "\n"
        + "".join(f"# note {i}: rewritten\n" for i in range(2000)),
        encoding="utf-8",
    )
    git(published, "add", "-A")
    statuses = git(published, "diff", "--cached", "--name-status", "-M", "main")
    assert any(line.startswith("D") for line in statuses.splitlines()), statuses
    check = cli("check", "--base", "main")
    assert "FIML065" not in check.output, check.output
    assert check.exit_code == 0, check.output


def _learner_mid_lesson(root: Path):
    git(root, "checkout", "-q", "main")  # an author working alone on the release branch publishes at once
    tutor, content = make_tutor(root)
    ada = Learner(tutor)
    ada.send(Start())
    ada.send(Pressed(encode("o", OLD)))
    ada.press("Next")
    return tutor, content, ada


def test_learners_mid_lesson_carry_on_after_a_rename(published: Path) -> None:
    tutor, content, ada = _learner_mid_lesson(published)
    section = progress_of(tutor, ada.id, OLD).current_section
    rename(published)
    commit_all(published, "rename")
    assert cli("tag", NEW).exit_code == 0
    content.refresh()
    ada.press("Next")
    assert "new edition" not in ada.text and "Updated" not in ada.text
    progress = progress_of(tutor, ada.id, NEW)
    assert progress.pinned_version == "1.0.1" and progress.current_section != section  # moved on by one


def test_a_major_number_for_a_rename_alone_does_not_ask_learners_to_choose(published: Path) -> None:
    tutor, content, ada = _learner_mid_lesson(published)
    rename(published)
    commit_all(published, "rename")
    assert cli("bump", NEW, "major", "-m", "Renamed", "--commit", "--tag").exit_code == 0
    content.refresh()
    ada.press("Next")
    assert "new edition" not in ada.text
    assert progress_of(tutor, ada.id, NEW).pinned_version == "2.0.0"


def test_a_rename_with_a_major_content_change_still_offers_the_choice(published: Path) -> None:
    _tutor, content, ada = _learner_mid_lesson(published)
    path = rename(published)
    replace_in(path, "  - id: participants\n", "  - id: players\n")
    commit_all(published, "rename and rewrite")
    assert cli("bump", NEW, "auto", "-m", "Renamed and rewritten", "--commit", "--tag").exit_code == 0
    content.refresh()
    ada.press("Next")
    assert "new edition" in ada.text
