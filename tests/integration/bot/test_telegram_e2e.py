"""The bot end to end through python-telegram-bot's real update processing, against the fake Bot API."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from telegram import Update

from fiml_bot.adapters.telegram import build_application
from fiml_cms.lesson import MultipleChoiceQuestion, NumericQuestion, TrueFalseQuestion
from testing.cli import cli
from testing.fakebotapi import NO_LIMITS, FakeBotApi
from testing.telegram_harness import CHAT, Harness
from testing.tutor_driver import make_tutor, progress_of, xp_of

MARKET = "what_is_a_market"


def run(coroutine):
    return asyncio.run(coroutine)


def test_start_lesson_quiz_completion(published: Path) -> None:
    async def scenario() -> None:
        async with Harness(published) as h:
            assert [c.method for c in h.fake.calls_to("setMyCommands")]
            await h.say("/start")
            assert "Welcome" in h.last_text()
            await h.tap("Lessons")
            await h.tap("What Is a Market?")
            lesson = h.content.latest(MARKET)
            for _ in lesson.sections:
                await h.tap("Next" if "Next" in str(h.fake.last_buttons(CHAT)) else "Start the quiz")
            for question in lesson.quiz.questions:
                if isinstance(question, MultipleChoiceQuestion):
                    await h.tap(f"{question.answer + 1}. ")
                elif isinstance(question, TrueFalseQuestion):
                    await h.tap("True" if question.answer else "False")
                else:
                    assert isinstance(question, NumericQuestion)
                    await h.say(f"{question.answer:g}")
            texts = h.bot_texts()
            assert texts.count("✅ Correct!") == len(lesson.quiz.questions)
            assert "Lesson complete: What Is a Market?" in texts and "First Steps" in texts
            expected = lesson.xp_reward + sum(q.xp for q in lesson.quiz.questions)
            assert xp_of(h.tutor, f"telegram:{CHAT}") == expected
            assert len(h.fake.answered_callbacks()) == len(h.fake.calls_to("answerCallbackQuery")) > 0
            assert not h.fake.errors()

    run(scenario())


def test_a_double_tap_pays_once_and_a_redelivered_update_applies_once(published: Path) -> None:
    async def scenario() -> None:
        async with Harness(published) as h:
            await h.say("/lessons")
            await h.tap("What Is a Market?")
            for _ in h.content.latest(MARKET).sections:
                await h.tap("Next" if "Next" in str(h.fake.last_buttons(CHAT)) else "Start the quiz")
            question = h.content.latest(MARKET).quiz.questions[0]
            message = [m for m in h.fake.messages(CHAT) if m.from_bot and m.buttons][-1]
            data = next(d for t, d in message.buttons if t.startswith(f"{question.answer + 1}. "))
            tap = h.fake.callback(CHAT, message.message_id, data, enqueue=False)
            await h.deliver(tap)
            await h.deliver(tap)  # Telegram redelivers the same update_id
            await h.deliver(h.fake.callback(CHAT, message.message_id, data, enqueue=False))  # a second tap
            assert xp_of(h.tutor, f"telegram:{CHAT}") == question.xp
            assert len(progress_of(h.tutor, f"telegram:{CHAT}", MARKET).answers) == 1

    run(scenario())


def test_a_learner_who_blocked_the_bot_is_marked_inactive(published: Path) -> None:
    async def scenario() -> None:
        async with Harness(published) as h:
            await h.say("/start")
            h.fake.block(CHAT)
            await h.say("/lessons")
            with h.tutor.unit_of_work() as uow:
                assert uow.progress.learner(f"telegram:{CHAT}").active is False

    run(scenario())


class Replica(Harness):
    """One bot process: its own Application, Tutor and content, on a shared database."""

    def __init__(self, root: Path, fake: FakeBotApi, storage: object) -> None:
        self.fake = fake
        self.tutor, self.content = make_tutor(root, storage)
        self.app = build_application(
            self.tutor, fake.default_token, builder=fake.application_builder(), rate_limit=False
        )


def test_two_replicas_on_one_postgresql_behave_as_one_bot(published: Path, postgres_url: str) -> None:
    from fiml_bot.storage import open_storage
    from fiml_bot.storage.migrations_api import upgrade

    upgrade(postgres_url)
    fake = FakeBotApi(rate_limits=NO_LIMITS)
    storages = [open_storage(postgres_url), open_storage(postgres_url)]

    async def scenario() -> None:
        a, b = Replica(published, fake, storages[0]), Replica(published, fake, storages[1])
        async with a, b:
            await a.say("/lessons")
            await b.tap("What Is a Market?")
            lesson = a.content.latest(MARKET)
            for i, _ in enumerate(lesson.sections):  # alternate replicas, as a load balancer would
                replica = (a, b)[i % 2]
                await replica.tap("Next" if "Next" in str(fake.last_buttons(CHAT)) else "Start the quiz")
            question = lesson.quiz.questions[0]
            message = [m for m in fake.messages(CHAT) if m.from_bot and m.buttons][-1]
            data = next(d for t, d in message.buttons if t.startswith(f"{question.answer + 1}. "))
            same = fake.callback(CHAT, message.message_id, data, enqueue=False)
            other = fake.callback(CHAT, message.message_id, data, enqueue=False)
            # the same update to both replicas at once, and a second tap on the other: applied once, paid once
            await asyncio.gather(a.deliver(same), b.deliver(same), b.deliver(other))
            learner = f"telegram:{CHAT}"
            assert xp_of(a.tutor, learner) == question.xp
            progress = progress_of(b.tutor, learner, MARKET)
            assert progress.status == "quiz" and [x.question_id for x in progress.answers] == [question.id]
            assert progress.sections_done == tuple(s.id for s in lesson.sections)

    try:
        run(scenario())
    finally:
        for storage in storages:
            storage.close()


@pytest.mark.parametrize(
    "choice,pinned", [("Continue my version", "1.0.0"), ("Restart on the new one", "2.0.0")]
)
def test_a_major_update_mid_lesson_offers_the_choice_on_telegram(
    published: Path, choice: str, pinned: str
) -> None:
    from testing.repo import commit_all, replace_in

    async def scenario() -> None:
        async with Harness(published) as h:
            await h.say("/lessons")
            await h.tap("What Is a Market?")
            await h.tap("Next")
            replace_in(
                published / "content/lessons/what_is_a_market.yaml", "  - id: exchanges\n", "  - id: venues\n"
            )
            commit_all(published, "rename a section")
            assert cli("bump", MARKET, "major", "-m", "Rewritten", "--commit", "--tag").exit_code == 0
            h.content.refresh()
            await h.tap("Next")
            assert "new edition" in h.last_text()
            xp = xp_of(h.tutor, f"telegram:{CHAT}")
            await h.tap(choice)
            assert progress_of(h.tutor, f"telegram:{CHAT}", MARKET).pinned_version == pinned
            assert xp_of(h.tutor, f"telegram:{CHAT}") == xp

    run(scenario())
