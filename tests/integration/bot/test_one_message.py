"""One section, one message: what FIML041 measures is what the bot sends (fiml_cms/message.py).

Lessons are served from memory to the real tutor and python-telegram-bot's real update processing,
against the fake Bot API, which parses the HTML as Telegram does and counts UTF-16 code units.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from telegram import Update

from fiml_bot.adapters.finnhub import Finnhub
from fiml_bot.adapters.telegram import build_application, to_html
from fiml_bot.marketdata.service import MarketData
from fiml_bot.storage import MemoryStorage
from fiml_bot.tutor.callbacks import Open, encode
from fiml_bot.tutor.engine import Tutor
from fiml_cms import message
from fiml_cms.lesson import Lesson, NumericQuestion, TrueFalseQuestion
from testing.chat_lessons import MemoryContent, check, lesson_data, long_lessons
from testing.fakebotapi import NO_LIMITS, FakeBotApi
from testing.fakebotapi.formatting import parse_html, utf16_len
from testing.fakeprovider import FakeProvider

CHAT = 4242


class Chat:
    """One learner's chat with a bot serving `lessons`; each step returns the Bot API calls it made."""

    def __init__(self, lessons: list[Lesson], market: MarketData | None = None) -> None:
        self.fake = FakeBotApi(rate_limits=NO_LIMITS)
        ticks = itertools.count()
        start = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
        tutor = Tutor(
            MemoryContent(lessons),
            MemoryStorage(),  # type: ignore[arg-type]
            clock=lambda: start + dt.timedelta(seconds=next(ticks)),
        )
        self.app = build_application(
            tutor,
            self.fake.default_token,
            builder=self.fake.application_builder(),
            rate_limit=False,
            market=market,
        )

    async def _deliver(self, update: dict[str, Any]) -> list[str]:
        before = len(self.fake.calls)
        await self.app.process_update(Update.de_json(update, self.app.bot))
        sent = [c for c in self.fake.calls[before:] if c.method in ("sendMessage", "editMessageText")]
        assert all(c.status == 200 for c in sent), [c.response for c in sent]
        return [c.method for c in sent]

    async def say(self, text: str) -> list[str]:
        return await self._deliver(self.fake.user_message(CHAT, text, enqueue=False))

    async def tap(self, data: str) -> list[str]:
        last = [m for m in self.fake.messages(CHAT) if m.from_bot][-1]
        return await self._deliver(self.fake.callback(CHAT, last.message_id, data, enqueue=False))

    async def press(self, label: str) -> list[str]:
        last = [m for m in self.fake.messages(CHAT) if m.from_bot and m.buttons][-1]
        return await self.tap(next(d for t, d in last.buttons if label in t))

    def shown(self) -> str:
        """The text of the bot's newest message as the learner sees it (edits applied)."""
        return [m for m in self.fake.messages(CHAT) if m.from_bot][-1].text


def seen(text: str) -> str:
    """What Telegram shows for a tutor text: its HTML parsed by the fake (tdlib's parser), trimmed."""
    return parse_html(to_html(text))[0].strip()


async def walk(lesson: Lesson) -> None:
    """Read every section and answer every question; each must arrive as one message, whole."""
    chat = Chat([lesson])
    await chat.app.initialize()
    try:
        await chat.say("/start")
        steps = [await chat.tap(encode(Open(lesson.id)))]
        sections = len(lesson.sections)
        for number, section in enumerate(lesson.sections, 1):
            assert len(steps[-1]) == 1, f"section {section.id} went out as {len(steps[-1])} messages"
            assert chat.shown() == seen(message.section_text(lesson.title, number, sections, section))
            steps.append(await chat.press("Next" if number < sections else "Start the quiz"))
        questions = lesson.quiz.questions
        for number, question in enumerate(questions, 1):
            asked = seen(message.question_text(lesson.title, number, len(questions), question))
            # The question comes alone, or below the feedback to the previous answer, never cut.
            assert 1 <= len(steps[-1]) <= (1 if number == 1 else 2)
            assert chat.shown().endswith(asked)
            if isinstance(question, NumericQuestion):
                steps.append(await chat.say(f"{question.answer:g}"))
            else:
                steps.append(await chat.press("True" if isinstance(question, TrueFalseQuestion) else "1. "))
    finally:
        await chat.app.shutdown()


def test_a_lesson_is_sent_one_message_per_section_and_question() -> None:
    data = lesson_data(
        "orders",
        "Orders",
        [
            {
                "id": "a",
                "type": "text",
                "title": "Markets",
                "body": "A **market** is where `bids` meet *asks*.",
            },
            {"id": "b", "type": "key_points", "points": ["Buy < sell & spread", "📈 up"]},
        ],
        [
            {
                "id": "q1",
                "type": "multiple_choice",
                "prompt": "Which is **right**?",
                "options": ["This one", "That one"],
                "answer": 0,
                "explanation": "The first.",
            },
            {"id": "q2", "type": "numeric", "prompt": "How many?", "answer": 2, "explanation": "Two."},
        ],
    )
    lesson, findings = check(data)
    assert lesson is not None and findings == []
    asyncio.run(walk(lesson))


def _fiml041(findings: list[Any]) -> list[str]:
    return [f.message for f in findings if f.code == "FIML041"]


async def first_section(lesson: Lesson, market: MarketData | None = None) -> tuple[list[str], str]:
    """The Bot API calls that carried the lesson's first section, and the text the learner sees."""
    chat = Chat([lesson], market)
    await chat.app.initialize()
    try:
        await chat.say("/start")
        calls = await chat.tap(encode(Open(lesson.id)))
        return calls, "\n\n".join(m.text for m in chat.fake.sent(CHAT)[-len(calls) :])
    finally:
        await chat.app.shutdown()


def test_the_header_counts_a_section_that_validated_reached_telegram_as_two_messages() -> None:
    """Issue 23: 4,132 characters once the header is added; FIML041 measured the section without it."""
    title = "Reading the order book before you trade"
    body = "\n\n".join(["The spread is the gap between bid and ask. " * 9] * 11)[:4085].strip()
    data = lesson_data("order_book", title, [{"id": "book", "type": "text", "title": "Depth", "body": body}])
    assert len(f"Depth\n\n{body}") <= message.LIMIT  # what the old rule measured: it passed
    lesson, findings = check(data)
    assert lesson is not None
    whole = message.section_text(title, 1, 1, lesson.sections[0])
    telegram_counts = utf16_len(parse_html(to_html(whole))[0])
    assert telegram_counts > message.LIMIT and message.length(whole) == telegram_counts
    assert _fiml041(findings) == [
        f'section "book" is a message of {telegram_counts:,} UTF-16 units with its "{title} · 1/1" '
        "header; a Telegram message holds 4,096: split it into two sections"
    ]
    assert asyncio.run(first_section(lesson))[0] == ["sendMessage", "sendMessage"]


def test_emoji_count_two_utf16_units_each() -> None:
    """Issue 23: paragraphs of emoji, 2 UTF-16 units each, passed a `len` under 4,096."""
    body = "\n\n".join(["📈 📉 " * 70] * 10).strip()
    data = lesson_data("emoji", "Charts", [{"id": "moves", "type": "text", "body": body}])
    assert len(body) < message.LIMIT < message.utf16_length(body)
    lesson, findings = check(data)
    assert lesson is not None
    whole = message.section_text("Charts", 1, 1, lesson.sections[0])
    (finding,) = _fiml041(findings)
    assert f"{utf16_len(seen(whole)):,} UTF-16 units" in finding and "4,096" in finding
    assert asyncio.run(first_section(lesson))[0] == ["sendMessage", "sendMessage"]


def test_cut_in_two_the_emoji_section_validates_and_goes_out_as_two_whole_messages() -> None:
    paragraph = "📈 📉 " * 70
    halves = ["\n\n".join([paragraph] * 5).strip()] * 2
    data = lesson_data(
        "emoji", "Charts", [{"id": f"m{i}", "type": "text", "body": half} for i, half in enumerate(halves)]
    )
    lesson, findings = check(data)
    assert lesson is not None and _fiml041(findings) == []
    asyncio.run(walk(lesson))


def _live_lesson(paragraphs: int) -> dict[str, Any]:
    section = {
        "id": "quote",
        "type": "live_example",
        "title": "Today's spread",
        "body": "\n\n".join(["Compare the bid and the ask of the quote below. " * 8] * paragraphs),
        "data": {"symbol": "MSFT", "metrics": ["price", "bid", "ask"]},
        "fallback": "As of 2026-11-20, MSFT traded at $415.20, with a bid of $415.15 and an ask of $415.25.",
    }
    return lesson_data("spread", "Spreads", [section])


def test_a_live_example_is_measured_as_sent_when_its_data_fails() -> None:
    """Without data the section carries a note on top of its fallback: FIML041 counts that form too."""
    over, fits = _live_lesson(10), _live_lesson(9)
    lesson, findings = check(over)
    assert lesson is not None
    quiet = message.section_text("Spreads", 1, 1, lesson.sections[0])
    assert message.fits(quiet)  # as the tutor sends it, it fits; with the note it does not
    (finding,) = _fiml041(findings)
    assert "UTF-16 units when live data is unavailable" in finding
    short, short_findings = check(fits)
    assert short is not None and _fiml041(short_findings) == []

    with FakeProvider() as provider:
        provider.accept_keys("OP")
        provider.set_down()
        for each, parts in ((lesson, 2), (short, 1)):
            market = MarketData(Finnhub(provider.url), "OP", deadline=5.0)
            calls, seen_text = asyncio.run(first_section(each, market))
            assert calls == ["sendMessage"] * parts and message.UNAVAILABLE in seen_text


@settings(
    max_examples=max(20, settings.default.max_examples // 15),  # dev 20, ci 113
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(long_lessons())
def test_every_lesson_that_passes_fiml041_is_sent_one_message_per_section_and_question(
    data: dict[str, Any],
) -> None:
    lesson, findings = check(data)
    assume(lesson is not None and not any(f.is_error for f in findings))  # FIML041 is the one seen
    assert lesson is not None
    asyncio.run(walk(lesson))
