"""Issue 22, "no surprise side effects": chat pulls nothing into an author's clone unless asked, a failed
fetch says why in git's own words, and a tag says exactly how to bring a kept archive up to date."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from fiml_bot.bootstrap import BotSettings, build, chat_fetches
from fiml_bot.content import LessonContent
from fiml_bot.live import ContentRefresher
from fiml_cms.config import load_settings
from fiml_cms.errors import ContentError
from testing.cli import cli
from testing.repo import commit_all, git, replace_in

LESSON = "what_is_a_market"


def publish_patch(root: Path) -> None:
    replace_in(
        root / f"content/lessons/{LESSON}.yaml", "      A market is any place", "      A market is a place"
    )
    commit_all(root, "Wording")
    result = cli("bump", LESSON, "auto", "-m", "Wording", "--commit", "--tag")
    assert result.exit_code == 0, result.output


def test_chat_fetches_only_with_fetch_or_a_configured_remote(published: Path, tmp_path: Path) -> None:
    clone = tmp_path / "author"
    git(tmp_path, "clone", "-q", str(published), str(clone))
    publish_patch(published)  # a new tag upstream
    settings = BotSettings.from_env({}, content=clone, database_url=f"sqlite:///{tmp_path / 'chat.db'}")
    assert chat_fetches(False, settings) is False
    assert chat_fetches(True, settings) is True
    assert chat_fetches(False, BotSettings.from_env({"FIML_CONTENT_REMOTE": "origin"}, content=clone)) is True
    parts = build(settings, auto_upgrade=True)
    try:
        parts.content.fetch = chat_fetches(False, settings)
        parts.content.refresh()  # what chat's refresher does every 10 s
        assert git(clone, "tag", "-l", f"lesson/{LESSON}/v1.0.1") == ""  # nothing pulled into the clone
        assert parts.content.latest(LESSON).version == "1.0.0"
        parts.content.fetch = chat_fetches(True, settings)
        parts.content.refresh()
        assert git(clone, "tag", "-l", f"lesson/{LESSON}/v1.0.1") == f"lesson/{LESSON}/v1.0.1"
        assert parts.content.latest(LESSON).version == "1.0.1"
    finally:
        parts.storage.close()


def test_a_failed_fetch_logs_gits_own_reason(
    published: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clone = tmp_path / "bot"
    git(tmp_path, "clone", "-q", str(published), str(clone))
    # Upstream moves a tag the clone already has: git refuses ("would clobber existing tag") and exits 1.
    git(published, "tag", "-f", "-a", f"lesson/{LESSON}/v1.0.0", "-m", "moved", "HEAD")
    content = LessonContent.open(clone, load_settings(clone))
    with pytest.raises(ContentError, match="would clobber existing tag"):
        content.refresh()
    with caplog.at_level(logging.WARNING, logger="fiml_bot.live"):
        assert ContentRefresher(content, 0).refresh_now() is False
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "would clobber existing tag" in logged and "exit 1" not in logged


def test_a_tag_says_exactly_how_to_refresh_a_kept_archive(published: Path) -> None:
    assert cli("archive").exit_code == 0
    commit_all(published, "Archive")
    replace_in(
        published / f"content/lessons/{LESSON}.yaml",
        "      A market is any place",
        "      A market is a place",
    )
    commit_all(published, "Wording")
    bumped = cli("bump", LESSON, "auto", "-m", "Wording", "--commit", "--tag")
    assert bumped.exit_code == 0, bumped.output
    assert cli("archive", "--check").exit_code == 1  # what CI would say
    hint = re.search(r"run `fiml-cms archive && git add (\S+) && git commit -m \"([^\"]+)\"`", bumped.output)
    assert hint is not None, bumped.output
    assert cli("archive").exit_code == 0
    git(published, "add", hint.group(1))
    git(published, "commit", "-q", "-m", hint.group(2))
    assert cli("archive", "--check").exit_code == 0
    assert git(published, "status", "--porcelain") == ""
