"""Issue 22, "moving the lessons folder keeps every published version servable".

The reproduction: `git mv content/lessons lessons` and `lessons = "lessons"` in `.fiml-cms.toml`; `diff`
exited 1 ("no file for lesson ... at commit ..."), `chat` found no published version and served the
work tree as a preview, and a learner mid-lesson was restarted. Each tag's file is now found in the
tagged tree whatever the folder is now.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fiml_bot.content import LessonContent
from fiml_bot.storage import MemoryStorage
from fiml_bot.tutor.callbacks import encode
from fiml_bot.tutor.engine import Tutor
from fiml_bot.tutor.events import Pressed
from fiml_cms.config import load_settings
from testing.cli import cli
from testing.repo import commit_all, git, replace_in
from testing.tutor_driver import Clock, Learner, progress_of

LESSON = "what_is_a_market"


def move_lessons(root: Path) -> None:
    git(root, "mv", "content/lessons", "lessons")
    (root / ".fiml-cms.toml").write_text('lessons = "lessons"\n', encoding="utf-8")
    commit_all(root, "Lessons live in lessons/")


def fiml_bot(root: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fiml_bot", "chat", "--database", f"sqlite:///{tmp_path / 'chat.db'}", *args],
        input="1\n1\n",
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=120,
    )


def test_every_command_finds_published_versions_after_the_folder_moved(
    published: Path, tmp_path: Path
) -> None:
    tagged = git(published, "show", f"lesson/{LESSON}/v1.0.0:content/lessons/{LESSON}.yaml")
    move_lessons(published)
    diffed = cli("diff", LESSON)
    assert diffed.exit_code == 0, diffed.output
    shown = cli("show", f"{LESSON}@1.0.0")
    assert shown.exit_code == 0 and shown.output.rstrip("\n") == tagged
    listed = cli("versions", LESSON)
    assert listed.exit_code == 0 and f"lesson/{LESSON}/v1.0.0" in listed.output
    gate = cli("check", "--base", "HEAD~1")
    assert gate.exit_code == 0, gate.output
    chat = fiml_bot(published, tmp_path, "--published")
    assert chat.returncode == 0, chat.stderr
    assert "no published lesson versions" not in chat.stderr and "What Is a Market?" in chat.stdout
    # A new version in the moved folder is bumped against the published one and gated as usual.
    replace_in(
        published / f"lessons/{LESSON}.yaml", "      A market is any place", "      A market is a place"
    )
    assert cli("check", "--base", "HEAD").exit_code == 1  # changed, not bumped: FIML060
    commit_all(published, "Wording")
    bumped = cli("bump", LESSON, "auto", "-m", "Wording", "--commit", "--tag")
    assert bumped.exit_code == 0, bumped.output
    assert cli("check", "--base", "HEAD~3").exit_code == 0  # the move, the edit and its bump
    assert cli("diff", LESSON, "1.0.0", "1.0.1").exit_code == 0


def test_a_learner_mid_lesson_before_the_move_continues_in_place_after_it(published: Path) -> None:
    content = LessonContent.open(published, load_settings(published))
    tutor = Tutor(content, MemoryStorage(), clock=Clock())  # type: ignore[arg-type]
    learner = Learner(tutor, "telegram:42")
    learner.send(Pressed(encode("o", LESSON)))
    learner.press("Next")
    before = progress_of(tutor, learner.id, LESSON)
    move_lessons(published)
    content.refresh(fetch=False)
    learner.press("Next")
    after = progress_of(tutor, learner.id, LESSON)
    assert "no longer available" not in learner.text
    assert after.pinned_version == before.pinned_version == "1.0.0"
    assert after.sections_done[: len(before.sections_done)] == before.sections_done
    assert len(after.sections_done) == len(before.sections_done) + 1 and after.attempt == before.attempt
    # A bot started after the move serves the same published versions.
    restarted = LessonContent.open(published, load_settings(published))
    assert restarted.latest(LESSON).version == "1.0.0" and len(restarted.lesson_ids()) == 11


def test_fiml_bot_reads_the_lessons_setting_accepts_lessons_and_names_the_setting(
    published: Path, tmp_path: Path
) -> None:
    git(published, "mv", "content/lessons", "lessons")
    (published / ".fiml-cms.toml").write_text("# defaults\n", encoding="utf-8")
    commit_all(published, "Moved, setting forgotten")
    # Published versions are still served (found in each tagged tree); previewing the folder needs it named.
    missing = fiml_bot(published, tmp_path, "--preview")
    assert missing.returncode == 2
    assert "no lessons to serve" in missing.stderr
    assert f"`lessons` in {published / '.fiml-cms.toml'}" in missing.stderr and "--lessons" in missing.stderr
    given = fiml_bot(published, tmp_path, "--preview", "--lessons", "lessons")
    assert given.returncode == 0, given.stderr
    assert "What Is a Market?" in given.stdout
