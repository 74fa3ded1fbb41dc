"""Learner reports (issue 24): a button under every section and question, and `/report`, on Telegram
(PTB's real update processing) and in the terminal chat; stored with lesson, version, place and words
(SQLite and PostgreSQL), counted in `fiml_learner_reports_total{lesson,version}`, and listed for
authors by `fiml-cms reports LESSON` from the bot's database."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from telegram import Update

from fiml_bot.adapters.telegram import build_application
from fiml_bot.ops.metrics import BotMetrics
from fiml_bot.storage import MemoryStorage
from fiml_bot.storage.migrations_api import upgrade
from fiml_bot.storage.unit_of_work import open_storage
from fiml_bot.tutor.events import Command, ListLessons, Pressed, Text
from fiml_bot.tutor.reporting import MAX_WORDS
from testing.cli import cli
from testing.fakebotapi import NO_LIMITS, FakeBotApi
from testing.tutor_driver import Learner, make_tutor

MARKET = "what_is_a_market"
TITLE = "What Is a Market?"
BOTH = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)


def open_market(ada: Learner) -> None:
    ada.send(ListLessons())
    ada.press(TITLE)


def reports_json(url: str, *args: str) -> dict:
    done = cli("reports", MARKET, "--database", url, "--format", "json", *args)
    assert done.exit_code == 0, done.output
    return json.loads(done.output)


@BOTH
def test_a_section_report_and_a_question_report_are_stored_and_listed_per_version(
    published: Path, database_url: str
) -> None:
    upgrade(database_url)
    with open_storage(database_url) as storage:
        tutor, _content = make_tutor(published, storage)
        ada = Learner(tutor, "telegram:1")
        open_market(ada)
        assert any("Report a problem" in b.label for m in ada.last for b in m.all_buttons)
        ada.press("Report a problem")
        assert "What is wrong with “A meeting place for buyers and sellers”" in ada.text
        ada.send(Text("  The second   paragraph\ncontradicts the first.  "))
        assert "Thanks! Your report went to the lesson's authors." in ada.text
        assert "Next" in str([b.label for m in ada.last for b in m.all_buttons])  # back where they were

        ada.read_to_quiz()
        ada.answer_current()  # q1 answered: the learner is at q2
        ada.send(Command("report", "q2 has two right answers"))  # /report with words files at once
        assert "Thanks!" in ada.text
        ada.press("Report a problem")  # under q2, shown again after the thanks
        ada.send(Command("cancel"))
        assert "dropped" in ada.text

    listed = reports_json(database_url)
    assert listed["total"] == 2
    assert [v["version"] for v in listed["versions"]] == ["1.0.0"]
    first, second = listed["versions"][0]["reports"]
    assert (first["section"], first["question"]) == ("intro", None)
    assert first["words"] == "The second paragraph contradicts the first."
    assert (second["section"], second["question"]) == (None, "q2")
    assert second["words"] == "q2 has two right answers"
    text = cli("reports", MARKET, "--database", database_url)
    assert text.exit_code == 0
    assert "what_is_a_market: 2 reports from learners" in text.output
    assert "1.0.0: 2 reports" in text.output and "question q2: q2 has two right answers" in text.output
    assert reports_json(database_url, "--version", "2.0.0")["total"] == 0


def test_a_pending_report_is_abandoned_by_any_other_action_and_words_are_bounded(published: Path) -> None:
    storage = MemoryStorage()
    tutor, _content = make_tutor(published, storage)
    ada = Learner(tutor)
    open_market(ada)
    ada.press("Report a problem")
    ada.send(Text("x" * (MAX_WORDS + 1)))
    assert f"That is {MAX_WORDS + 1} characters" in ada.text  # still waiting: a shorter one is taken
    ada.send(Text("Typo in the title"))
    assert "Thanks!" in ada.text

    next_button = ada.button("Next")
    ada.press("Report a problem")
    ada.send(Pressed(next_button.data))  # moving on (the button above the prompt) abandons the report
    ada.send(Text("hello there"))
    assert "Thanks" not in ada.text and "I didn't understand that" in ada.text
    ada.send(Command("cancel"))
    assert "nothing to cancel" in ada.text

    with storage() as uow:
        filed = uow.progress.reports()  # type: ignore[attr-defined]
    assert [(r.lesson_id, r.version, r.section_id, r.words) for r in filed] == [
        (MARKET, "1.0.0", "intro", "Typo in the title")
    ]


def test_report_before_any_lesson_explains_itself(published: Path) -> None:
    tutor, _content = make_tutor(published)
    ada = Learner(tutor)
    ada.send(Command("report", "something"))
    assert "Open a lesson first" in ada.text


def test_telegram_report_button_and_command_through_ptb_count_in_metrics(
    published: Path, sqlite_url: str
) -> None:
    upgrade(sqlite_url)
    metrics = BotMetrics()
    fake = FakeBotApi(rate_limits=NO_LIMITS)
    chat = 5151

    async def scenario() -> None:
        with open_storage(sqlite_url) as storage:
            tutor, _content = make_tutor(published, storage)
            tutor.observer = metrics
            app = build_application(
                tutor, fake.default_token, builder=fake.application_builder(), rate_limit=False
            )
            await app.initialize()
            await app.post_init(app)  # type: ignore[misc]
            try:

                async def deliver(update: dict) -> None:
                    await app.process_update(Update.de_json(update, app.bot))

                async def tap(label: str) -> None:
                    message = [m for m in fake.messages(chat) if m.from_bot and m.buttons][-1]
                    data = next(d for t, d in message.buttons if label in t)
                    await deliver(fake.callback(chat, message.message_id, data, enqueue=False))

                await deliver(fake.user_message(chat, "/lessons", enqueue=False))
                await tap(TITLE)
                await tap("Report a problem")
                await deliver(fake.user_message(chat, "The chart does not load", enqueue=False))
                await deliver(fake.user_message(chat, "/report the intro is too long", enqueue=False))
            finally:
                await app.shutdown()

    asyncio.run(scenario())
    said = "\n".join(m.text for m in fake.messages(chat) if m.from_bot)
    assert "What is wrong with" in said and said.count("Thanks! Your report went") == 2
    exposition = metrics.exposition().decode()
    assert f'fiml_learner_reports_total{{lesson="{MARKET}",version="1.0.0"}} 2.0' in exposition
    assert [r["words"] for r in reports_json(sqlite_url)["versions"][0]["reports"]] == [
        "The chart does not load",
        "the intro is too long",
    ]


def test_the_terminal_chat_reports_with_slash_report(content_repo: Path, tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'var' / 'chat.db'}"
    script = ["1", "1", "/report", "The first screen has a typo", "1"]
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "fiml_bot", "chat", "--database", database, "--preview"],
        input="\n".join(script) + "\n",
        capture_output=True,
        text=True,
        cwd=content_repo,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "/report: report a problem" in done.stdout  # the button, unnumbered: digits stay answers
    assert "Thanks! Your report went to the lesson's authors." in done.stdout
    assert "· 2/" in done.stdout  # "1" after the report still pressed Next
    listed = reports_json(database)
    assert listed["versions"][0]["reports"][0]["words"] == "The first screen has a typo"
    assert listed["versions"][0]["reports"][0]["section"] == "intro"


def test_fiml_cms_reports_names_the_problem_with_the_database(tmp_path: Path, sqlite_url: str) -> None:
    missing = cli("reports", MARKET, "--database", f"sqlite:///{tmp_path / 'nope.db'}")
    assert missing.exit_code == 2
    assert "no database at sqlite:///" in missing.output and "Traceback" not in missing.output

    upgrade(sqlite_url, "0005")  # a schema from before the reports table
    old = cli("reports", MARKET, "--database", sqlite_url)
    assert old.exit_code == 2
    assert "run `fiml-bot db upgrade`" in old.output

    bad = cli("reports", MARKET, "--database", "mysql://u:secret@host/db")
    assert bad.exit_code == 2
    assert "secret" not in bad.output and "unsupported database URL" in bad.output


def test_fiml_cms_reports_reads_fiml_database_url(
    published: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    upgrade(sqlite_url)
    with open_storage(sqlite_url) as storage:
        tutor, _content = make_tutor(published, storage)
        ada = Learner(tutor, "telegram:9")
        open_market(ada)
        ada.send(Command("report", "broken link"))
    monkeypatch.setenv("FIML_DATABASE_URL", sqlite_url)
    done = cli("reports", MARKET)
    assert done.exit_code == 0, done.output
    assert "section intro: broken link" in done.output


@BOTH
def test_first_answers_are_kept_when_a_failed_quiz_is_retried(published: Path, database_url: str) -> None:
    """What a canary's first-attempt accuracy reads: a retry after a failed quiz never replaces them."""
    import datetime as dt

    from fiml_bot.storage.canary_facts import side_facts

    upgrade(database_url)
    with open_storage(database_url) as storage:
        tutor, _content = make_tutor(published, storage)
        ada = Learner(tutor, "telegram:3")
        open_market(ada)
        ada.read_to_quiz()
        for _ in range(5):
            ada.answer_current(correct=False)
        ada.press("Try again")
        ada.read_to_quiz()
        for _ in range(5):
            ada.answer_current(correct=True)
        assert "Lesson complete" in ada.text
        since = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
        facts = side_facts(
            storage.engine, storage.where, MARKET, ("1.0.0",), since, since, dt.timedelta(hours=1)
        )["1.0.0"]
    assert facts.questions == {f"q{n}": (1, 0) for n in range(1, 6)}  # one first answer each, wrong
    assert (facts.learners, facts.completed) == (1, 1)
