"""Issue 22, "published = tagged and merged": a tag on an unmerged branch is never served.

Reproductions on real git repositories: an author tagging on a pull-request branch, a bot clone that
only fetches, and CI's tag on merge (`fiml-cms tag --merged`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fiml_bot.content import LessonContent
from fiml_cms.config import load_settings
from testing.cli import cli
from testing.repo import commit_all, git, replace_in

LESSON = "what_is_a_market"
UNREVIEWED = "UNREVIEWED: markets always go up."


def edit(root: Path) -> None:
    replace_in(
        root / f"content/lessons/{LESSON}.yaml",
        "      A market is any place",
        f"      {UNREVIEWED} A market is any place",
    )


def open_branch_with_bump(root: Path, branch: str = "pr") -> None:
    git(root, "checkout", "-q", "-b", branch)
    edit(root)
    commit_all(root, "Unreviewed edit")


def latest(root: Path) -> str:
    return LessonContent.open(root, load_settings(root)).latest(LESSON).version


def chat_output(root: Path, tmp_path: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "fiml_bot", "chat", "--database", f"sqlite:///{tmp_path / 'chat.db'}"],
        input="1\n1\n",
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_bump_tag_on_a_pull_request_branch_is_refused_and_writes_nothing(published: Path) -> None:
    open_branch_with_bump(published)
    gate = cli("check", "--base", "main")  # the pull request's gate: changed, not bumped yet
    assert gate.exit_code == 1 and "FIML060" in gate.output
    head = git(published, "rev-parse", "HEAD")
    before = (published / f"content/lessons/{LESSON}.yaml").read_bytes()
    result = cli("bump", LESSON, "auto", "-m", "Unreviewed", "--commit", "--tag")
    assert result.exit_code == 1
    assert "not a release branch (main)" in result.output
    assert "fiml-cms tag --merged" in result.output and "--pending" in result.output
    assert git(published, "rev-parse", "HEAD") == head
    assert (published / f"content/lessons/{LESSON}.yaml").read_bytes() == before
    assert git(published, "tag", "-l", f"lesson/{LESSON}/*") == f"lesson/{LESSON}/v1.0.0"
    # `tag` alone refuses the same way once the bump is committed (which the gate then passes).
    assert cli("bump", LESSON, "auto", "-m", "Unreviewed", "--commit").exit_code == 0
    assert cli("check", "--base", "main").exit_code == 0
    refused = cli("tag", LESSON)
    assert refused.exit_code == 1 and "not a release branch" in refused.output


def test_a_pending_tag_is_not_served_until_merged_then_goes_live_without_restart(
    published: Path, tmp_path: Path
) -> None:
    open_branch_with_bump(published)
    result = cli("bump", LESSON, "auto", "-m", "Unreviewed", "--commit", "--tag", "--pending")
    assert result.exit_code == 0, result.output
    git(published, "checkout", "-q", "main")
    # The reproduction: on main, `fiml-bot chat` must not serve the unreviewed text.
    assert UNREVIEWED not in chat_output(published, tmp_path)
    content = LessonContent.open(published, load_settings(published))
    assert content.latest(LESSON).version == "1.0.0"
    listed = cli("versions", LESSON)
    assert listed.exit_code == 0
    assert "1.0.0" in listed.output and "1.0.1" in listed.output
    assert (
        "PENDING MERGE" in listed.output.splitlines()[-1] and "PENDING" not in listed.output.splitlines()[0]
    )
    rows = json.loads(cli("versions", LESSON, "--format", "json").output)["versions"]
    assert [(r["version"], r["pending"]) for r in rows] == [("1.0.0", False), ("1.0.1", True)]
    # Reviewed and merged: the same running content picks it up on its next refresh.
    git(published, "merge", "-q", "--no-ff", "-m", "Merge pr", "pr")
    content.refresh(fetch=False)
    assert content.latest(LESSON).version == "1.0.1"
    assert UNREVIEWED in content.latest(LESSON).sections[0].body  # type: ignore[attr-defined]
    assert "PENDING" not in cli("versions", LESSON).output


def test_a_fetch_only_bot_clone_serves_a_tag_once_the_remote_release_branch_has_it(
    published: Path, tmp_path: Path
) -> None:
    bot = tmp_path / "bot"
    git(tmp_path, "clone", "-q", str(published), str(bot))
    open_branch_with_bump(published)
    assert cli("bump", LESSON, "auto", "-m", "Unreviewed", "--commit", "--tag", "--pending").exit_code == 0
    content = LessonContent.open(bot, load_settings(bot))
    content.refresh()  # fetches the tag: pending, not served
    assert git(bot, "tag", "-l", f"lesson/{LESSON}/v1.0.1") == f"lesson/{LESSON}/v1.0.1"
    assert content.latest(LESSON).version == "1.0.0"
    git(published, "checkout", "-q", "main")
    git(published, "merge", "-q", "--no-ff", "-m", "Merge pr", "pr")
    # The bot's own checkout never moves (it only fetches): the fetched origin/main decides.
    local_main = git(bot, "rev-parse", "main")
    content.refresh()
    assert content.latest(LESSON).version == "1.0.1"
    assert git(bot, "rev-parse", "main") == local_main


def test_release_branches_setting_is_what_counts(published: Path) -> None:
    (published / ".fiml-cms.toml").write_text('release_branches = ["production"]\n', encoding="utf-8")
    commit_all(published, "Release from production")
    # Nothing is merged into a branch that does not exist yet: nothing is published.
    assert LessonContent.open(published, load_settings(published)).store.ids() == []
    git(published, "branch", "production")
    assert latest(published) == "1.0.0"
    bad = published / ".fiml-cms.toml"
    bad.write_text("release_branches = [1]\n", encoding="utf-8")
    result = cli("versions", LESSON)
    assert result.exit_code == 2 and ".fiml-cms.toml:1: `release_branches` must be" in result.output


def test_tag_merged_tags_each_new_version_on_the_release_branch_idempotently(published: Path) -> None:
    open_branch_with_bump(published)
    assert cli("bump", LESSON, "auto", "-m", "Reviewed", "--commit").exit_code == 0
    bumped = git(published, "rev-parse", "HEAD")
    refused = cli("tag", "--merged")
    assert refused.exit_code == 1 and "not on a release branch (main)" in refused.output
    git(published, "checkout", "-q", "main")
    git(published, "merge", "-q", "--no-ff", "-m", "Merge pr", "pr")
    first = cli("tag", "--merged")
    assert first.exit_code == 0, first.output
    assert f"created lesson/{LESSON}/v1.0.1 at {bumped[:12]}" in first.output
    assert "1 tag(s) created, 10 version(s) already tagged" in first.output
    assert git(published, "rev-parse", f"lesson/{LESSON}/v1.0.1^{{commit}}") == bumped
    again = cli("tag", "--merged")
    assert again.exit_code == 0 and "0 tag(s) created, 11 version(s) already tagged" in again.output
    assert latest(published) == "1.0.1"


def test_a_bot_fetching_from_a_url_checks_that_remotes_release_branch(
    published: Path, tmp_path: Path
) -> None:
    bot = tmp_path / "bot"
    git(tmp_path, "clone", "-q", str(published), str(bot))
    git(bot, "remote", "remove", "origin")  # FIML_CONTENT_REMOTE names the repository by URL instead
    open_branch_with_bump(published)
    assert cli("bump", LESSON, "auto", "-m", "Unreviewed", "--commit", "--tag", "--pending").exit_code == 0
    content = LessonContent.open(bot, load_settings(bot), remote=str(published))
    content.refresh()
    assert content.latest(LESSON).version == "1.0.0"
    git(published, "checkout", "-q", "main")
    git(published, "merge", "-q", "--no-ff", "-m", "Merge pr", "pr")
    content.refresh()
    assert content.latest(LESSON).version == "1.0.1"
    assert git(bot, "rev-parse", "refs/remotes/fiml-content/main") == git(published, "rev-parse", "main")


def test_doctor_does_not_fail_on_a_tag_pending_merge(published: Path, tmp_path: Path) -> None:
    from fiml_bot.bootstrap import BotSettings, build
    from fiml_bot.services.doctor import run_doctor
    from fiml_bot.tutor.callbacks import encode
    from fiml_bot.tutor.events import Pressed

    settings = BotSettings.from_env({}, content=published, database_url=f"sqlite:///{tmp_path / 'bot.db'}")
    parts = build(settings, auto_upgrade=True)
    try:
        parts.tutor.handle("telegram:1", Pressed(encode("o", LESSON)), name="Ada")
    finally:
        parts.storage.close()
    open_branch_with_bump(published)
    assert cli("bump", LESSON, "auto", "-m", "Unreviewed", "--commit", "--tag", "--pending").exit_code == 0
    report = run_doctor(settings)
    assert report.problems == [] and report.skipped == []


def test_notify_counts_a_minor_update_only_once_it_is_merged(published: Path) -> None:
    from fiml_bot.notify import updates_since

    before = git(published, "rev-parse", "main")
    git(published, "checkout", "-q", "-b", "pr")
    replace_in(
        published / f"content/lessons/{LESSON}.yaml",
        "sections:\n",
        "sections:\n  - id: warmup\n    type: text\n    title: Before we start\n    body: |\n      Look around you.\n",
    )
    commit_all(published, "A warm-up section")
    assert cli("bump", LESSON, "auto", "-m", "A warm-up", "--commit", "--tag", "--pending").exit_code == 0
    content = LessonContent.open(published, load_settings(published))
    assert updates_since(content, before) == {}  # tagged, not merged: nobody is told
    git(published, "checkout", "-q", "main")
    git(published, "merge", "-q", "--no-ff", "-m", "Merge pr", "pr")
    content.refresh(fetch=False)
    update = updates_since(content, before)[LESSON]
    assert (update.base, update.new) == ("1.0.0", "1.1.0")


def test_without_main_master_counts_then_the_checked_out_branch_with_a_note(published: Path) -> None:
    git(published, "branch", "-m", "main", "master")
    assert latest(published) == "1.0.0"
    assert "note:" not in cli("versions", LESSON).output
    git(published, "branch", "-m", "master", "trunk")  # a lone repository on a branch of its own name
    assert latest(published) == "1.0.0"
    listed = cli("versions", LESSON)
    assert listed.exit_code == 0
    assert (
        "note: no branch 'main': the checked-out branch 'trunk' is taken as the release branch"
        in listed.output
    )
