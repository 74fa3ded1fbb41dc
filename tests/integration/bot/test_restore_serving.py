"""A restore while `fiml-bot chat` serves: what the chat confirmed is never lost (20 runs in a row on
each database). The restore excludes writers while it switches, so a chat action either lands before
(and is merged back) or after (into the restored data), or the learner is told the records cannot be
reached and nothing was changed."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from fiml_bot.ops import doctor, snapshots
from fiml_bot.storage import migrations_api
from fiml_cms.document import parse_lesson
from testing.ledger import earn, losses, tally
from testing.restore_kill import TIMEOUT, start

BOTH = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
pytestmark = pytest.mark.usefixtures("pg_tools")
RUNS = 20
LESSON = "what_is_a_market"


def script(content: Path) -> str:
    """Start, open the first lesson, read every section, answer the quiz right (as test_chat does)."""
    from fiml_cms.lesson import MultipleChoiceQuestion, NumericQuestion, TrueFalseQuestion

    lesson = parse_lesson((content / f"content/lessons/{LESSON}.yaml").read_bytes(), "x")
    answers = []
    for question in lesson.quiz.questions:
        if isinstance(question, MultipleChoiceQuestion):
            answers.append(str(question.answer + 1))
        elif isinstance(question, TrueFalseQuestion):
            answers.append("1" if question.answer else "2")
        else:
            assert isinstance(question, NumericQuestion)
            answers.append(f"{question.answer:g}")
    return "\n".join(["1", "1"] + ["1"] * len(lesson.sections) + answers) + "\n"


@BOTH
def test_a_restore_while_the_chat_serves_loses_nothing_it_confirmed(
    database_url: str, content_repo: Path, tmp_path: Path
) -> None:
    migrations_api.upgrade(database_url)
    for n in range(5):
        earn(database_url, f"telegram:{n}", "lesson:a", 10, complete="a")
    folder = tmp_path / "snaps"
    snapshot = snapshots.take(database_url, folder=folder)
    env = {"FIML_SNAPSHOT_DIR": str(folder)}
    lines = script(content_repo)
    confirmed = 0
    for run in range(RUNS):
        before = tally(database_url)
        restore = start(
            "db", "restore", str(snapshot.path), "--database", database_url, cwd=tmp_path, env=env
        )
        user = f"run{run}"
        time.sleep((run % 5) * 0.3)  # the chat's session meets the restore at a different step each run
        chat = start(
            "chat", "--database", database_url, "--preview", "--user", user, cwd=content_repo, env=env
        )
        chat_out, chat_err = chat.communicate(lines, timeout=TIMEOUT)
        restore_out, restore_err = restore.communicate(timeout=TIMEOUT)
        assert restore.returncode == 0, restore_err
        assert chat.returncode == 0 and "Traceback" not in chat_err, chat_err
        after = tally(database_url)
        assert losses(before, after) == [], f"run {run}: {restore_out}"
        if "Lesson complete" in chat_out:  # the chat confirmed XP, a completion and a badge
            confirmed += 1
            xp, completions, badges = after[f"console:{user}"]
            stars = [int(x) for x in re.findall(r"⭐ (\d+) XP", chat_out)]
            assert completions == 1 and badges >= 1 and xp >= max(stars, default=1), (run, after, chat_out)
        else:
            assert "I can't reach my records" in chat_out, chat_out
    assert doctor.run(database_url, None).problems == []
    assert confirmed > 0  # the runs exercised the chat, not only its error path
