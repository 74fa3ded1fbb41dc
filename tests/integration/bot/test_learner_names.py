"""A platform's display name is anyone's text: a NUL or a lone surrogate in a Telegram first name is
dropped before the learner is stored, on every store (PostgreSQL's text type refuses a NUL)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fiml_bot.content import LessonContent
from fiml_bot.tutor.dispatch import storable_name
from fiml_bot.tutor.engine import Tutor
from fiml_bot.tutor.events import Start
from fiml_cms.config import load_settings


def test_storable_name_drops_only_what_no_database_stores() -> None:
    assert storable_name("Al\x00ice") == "Alice"
    assert storable_name("Zo\ud800ë 🙂") == "Zoë 🙂"
    assert storable_name("\x00") == ""


def test_a_first_name_with_a_nul_reaches_every_store_cleaned(storage, git_repo: Path) -> None:
    content = LessonContent.open(git_repo, load_settings(git_repo))
    tutor = Tutor(content, storage, clock=lambda: dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC))  # type: ignore[arg-type]

    replies = tutor.handle("telegram:7", Start(), event_key="telegram:1", name="Al\x00ice\ud800")

    assert "Welcome, Alice!" in replies[0].text
    with storage() as uow:
        learner = uow.progress.learner("telegram:7")
    assert learner is not None and learner.name == "Alice"
