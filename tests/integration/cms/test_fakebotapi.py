"""The fake Bot API, exercised through python-telegram-bot's real `telegram.Bot` and `Application`.

In process (httpx MockTransport) and over loopback HTTP (FakeBotApiServer). Every scenario is bounded
by `run(..., timeout)`; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Coroutine, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

pytest.importorskip("telegram", reason="the fake Bot API is tested through python-telegram-bot")
import httpx
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import (
    AIORateLimiter,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from testing.fakebotapi import (
    NO_LIMITS,
    NOT_MODIFIED,
    SECRET_HEADER,
    FakeBotApi,
    FakeBotApiServer,
    RateLimits,
    parse_html,
    post_update,
)
from testing.fakebotapi.wire import parse_body

CHAT = 42
# PTB 22 itself reads the deprecated RetryAfter.retry_after while building the exception.
ignore_retry_after_deprecation = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


def run(coro: Coroutine[Any, Any, Any], timeout: float = 5.0) -> Any:
    """Run a scenario on a fresh loop, failing it rather than hanging past `timeout`."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def keyboard(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(text, callback_data=data)] for text, data in pairs])


@pytest.fixture
def fake() -> FakeBotApi:
    return FakeBotApi(rate_limits=NO_LIMITS)


@pytest.fixture
def server(fake: FakeBotApi) -> Iterator[FakeBotApiServer]:
    with FakeBotApiServer(fake) as running:
        yield running


# --------------------------------------------------------------------------------------------- basics


def test_get_me_answers_the_bot_behind_the_token(fake: FakeBotApi) -> None:
    async def scenario() -> Any:
        async with Bot(**fake.bot_kwargs("987654:ABC")) as bot:
            return await bot.get_me()

    me = run(scenario())
    assert (me.id, me.is_bot, me.username) == (987654, True, "fiml_test_bot")
    assert [c.method for c in fake.calls] == ["getMe", "getMe"]  # Bot.initialize() calls it too


def test_a_configured_token_rejects_others_with_401() -> None:
    fake = FakeBotApi(rate_limits=NO_LIMITS, token="1:right")

    async def scenario() -> None:
        async with Bot(**fake.bot_kwargs("1:wrong")):
            pass

    with pytest.raises(InvalidToken):
        run(scenario())


def test_unknown_methods_are_404(fake: FakeBotApi) -> None:
    async def scenario() -> None:
        async with fake.bot() as bot:
            await bot.do_api_request("sendTelepathy", api_kwargs={"chat_id": CHAT})

    with pytest.raises(EndPointNotFound):
        run(scenario())
    assert fake.errors()[-1].response == {"ok": False, "error_code": 404, "description": "Not Found"}


# --------------------------------------------------------------------------------------------- messages


def test_send_then_edit_keeps_one_message_and_refuses_an_identical_edit(fake: FakeBotApi) -> None:
    async def scenario() -> tuple[int, int]:
        async with fake.bot() as bot:
            first = await bot.send_message(CHAT, "Pick one", reply_markup=keyboard(("A", "pick:a")))
            second = await bot.send_message(CHAT, "Another")
            edited = await bot.edit_message_text(
                "Picked <b>A</b>",
                CHAT,
                first.message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard(("Next", "next")),
            )
            assert edited.edit_date is not None and edited.text == "Picked A"
            with pytest.raises(BadRequest) as same:
                await bot.edit_message_text(
                    "Picked <b>A</b>",
                    CHAT,
                    first.message_id,
                    parse_mode=ParseMode.HTML,
                    reply_markup=keyboard(("Next", "next")),
                )
            assert "Message is not modified" in str(same.value)  # PTB capitalises the description
            with pytest.raises(BadRequest, match="Message to edit not found"):
                await bot.edit_message_text("x", CHAT, 999)
            return first.message_id, second.message_id

    first_id, second_id = run(scenario())
    assert (first_id, second_id) == (1, 2)
    assert fake.errors()[0].description == NOT_MODIFIED
    messages = fake.sent(CHAT)
    assert [(m.message_id, m.text, m.edited) for m in messages] == [
        (1, "Picked A", True),
        (2, "Another", False),
    ]
    assert messages[0].entities == [{"type": "bold", "offset": 7, "length": 1}]
    assert messages[0].buttons == [("Next", "next")]
    assert fake.last_buttons(CHAT) == []  # the last bot message has no keyboard


def test_an_edit_without_reply_markup_removes_the_keyboard_and_counts_as_a_change(fake: FakeBotApi) -> None:
    async def scenario() -> None:
        async with fake.bot() as bot:
            sent = await bot.send_message(CHAT, "Question", reply_markup=keyboard(("Yes", "y")))
            await bot.edit_message_text("Question", CHAT, sent.message_id)  # same text, keyboard dropped
            await bot.edit_message_reply_markup(CHAT, sent.message_id, reply_markup=keyboard(("No", "n")))
            with pytest.raises(BadRequest, match="not modified"):
                await bot.edit_message_reply_markup(CHAT, sent.message_id, reply_markup=keyboard(("No", "n")))

    run(scenario())
    assert fake.last_buttons(CHAT) == [("No", "n")]
    assert fake.sent(CHAT)[0].edit_count == 2


def test_user_and_bot_messages_share_the_chat_message_ids(fake: FakeBotApi) -> None:
    update = fake.user_message(CHAT, "/start deep-link")
    assert update["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]

    async def scenario() -> None:
        async with fake.bot() as bot:
            parsed = Update.de_json(update, bot)
            assert parsed.message.text == "/start deep-link" and parsed.effective_user.id == CHAT
            await bot.send_message(CHAT, "Welcome", reply_to_message_id=parsed.message.message_id)
            await bot.delete_message(CHAT, 1)
            with pytest.raises(BadRequest, match="Message to delete not found"):
                await bot.delete_message(CHAT, 1)

    run(scenario())
    assert [(m.message_id, m.from_bot) for m in fake.messages(CHAT)] == [(2, True)]
    assert fake.deleted(CHAT) == [1]
    assert fake.sent(CHAT)[0].raw["reply_to_message"]["message_id"] == 1


# --------------------------------------------------------------------------------------------- limits


def test_callback_data_over_64_bytes_is_button_data_invalid(fake: FakeBotApi) -> None:
    async def scenario() -> None:
        async with fake.bot() as bot:
            await bot.send_message(CHAT, "ok", reply_markup=keyboard(("fits", "x" * 64)))
            with pytest.raises(BadRequest, match="Button_data_invalid"):
                await bot.send_message(
                    CHAT, "too long", reply_markup=keyboard(("ok", "a"), ("long", "x" * 65))
                )
            with pytest.raises(BadRequest, match="Button_data_invalid"):  # 33 two-byte letters = 66 bytes
                await bot.send_message(CHAT, "bytes, not characters", reply_markup=keyboard(("é", "é" * 33)))

    run(scenario())
    assert [c.description for c in fake.errors()] == ["Bad Request: BUTTON_DATA_INVALID"] * 2
    assert len(fake.sent(CHAT)) == 1


def test_text_over_4096_characters_is_too_long(fake: FakeBotApi) -> None:
    async def scenario() -> None:
        async with fake.bot() as bot:
            await bot.send_message(CHAT, "x" * 4096)
            with pytest.raises(BadRequest, match="Message is too long"):
                await bot.send_message(CHAT, "x" * 4097)
            with pytest.raises(BadRequest, match="Message text is empty"):
                await bot.send_message(CHAT, " \n ")

    run(scenario())
    assert fake.errors()[0].description == "Bad Request: message is too long"


def test_html_length_is_counted_after_parsing_and_bad_html_is_refused(fake: FakeBotApi) -> None:
    fits = "<b>" + "&lt;" * 4000 + "</b>" + "&amp;" * 96  # 4,096 characters once parsed

    async def scenario() -> None:
        async with fake.bot() as bot:
            message = await bot.send_message(CHAT, fits, parse_mode=ParseMode.HTML)
            assert message.text == "<" * 4000 + "&" * 96
            with pytest.raises(BadRequest, match="Message is too long"):
                await bot.send_message(CHAT, fits + "&quot;", parse_mode=ParseMode.HTML)
            with pytest.raises(BadRequest, match='Can\'t parse entities: unsupported start tag "x"'):
                await bot.send_message(CHAT, "1 <x> 2", parse_mode=ParseMode.HTML)
            with pytest.raises(BadRequest, match="Can't parse entities: can't find end tag"):
                await bot.send_message(CHAT, "<b>open", parse_mode=ParseMode.HTML)

    run(scenario())
    assert fake.errors()[1].description == (
        'Bad Request: can\'t parse entities: Unsupported start tag "x" at byte offset 2'
    )


def test_html_parser_follows_telegram() -> None:
    text, entities = parse_html(
        '<i>a &amp; b</i> &copy; <a href="https://x.org/?a=1&amp;b=2">link</a> 😀<b>!</b>'
    )
    assert text == "a & b &copy; link 😀!"
    assert entities == [
        {"type": "italic", "offset": 0, "length": 5},
        {"type": "text_link", "offset": 13, "length": 4, "url": "https://x.org/?a=1&b=2"},
        {"type": "bold", "offset": 20, "length": 1},  # 😀 is two UTF-16 code units
    ]
    with pytest.raises(
        ValueError, match=r'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'
    ):
        parse_html("<b>x</i>")


# --------------------------------------------------------------------------------------------- injections


@ignore_retry_after_deprecation
def test_an_injected_429_raises_retry_after_then_passes(fake: FakeBotApi) -> None:
    fake.fail_next("sendMessage", times=2, error_code=429, retry_after=3)

    async def scenario() -> None:
        async with fake.bot() as bot:
            for _ in range(2):
                with pytest.raises(RetryAfter, match="Retry in 3 seconds"):
                    await bot.send_message(CHAT, "hello")
            await bot.send_message(CHAT, "hello")

    run(scenario())
    storm = fake.errors(429)
    assert [c.response for c in storm] == [
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 3",
            "parameters": {"retry_after": 3},
        }
    ] * 2
    assert [m.text for m in fake.sent(CHAT)] == ["hello"]


def test_a_blocked_user_gets_403_forbidden(fake: FakeBotApi) -> None:
    fake.block(CHAT)

    async def scenario() -> None:
        async with fake.bot() as bot:
            with pytest.raises(Forbidden, match="bot was blocked by the user"):
                await bot.send_message(CHAT, "are you there?")
            await bot.send_message(CHAT + 1, "others still get messages")
            fake.unblock(CHAT)
            await bot.send_message(CHAT, "welcome back")

    run(scenario())
    assert fake.errors(403)[0].description == "Forbidden: bot was blocked by the user"


def test_a_dropped_answer_after_the_send_is_a_network_error_but_the_message_exists(fake: FakeBotApi) -> None:
    fake.disconnect_next("sendMessage", after_apply=True)

    async def scenario() -> None:
        async with fake.bot() as bot:
            with pytest.raises(NetworkError):
                await bot.send_message(CHAT, "did it arrive?")

    run(scenario())
    assert [m.text for m in fake.sent(CHAT)] == ["did it arrive?"]
    assert len(fake.dropped()) == 1 and fake.errors() == []


def test_rate_limits_answer_429_per_chat_and_overall() -> None:
    now = [100.0]
    loose = RateLimits(
        overall_per_second=3, per_chat_per_second=2
    )  # looser per chat than Telegram, to see both
    fake = FakeBotApi(rate_limits=loose, clock=lambda: now[0])

    def send(chat_id: int) -> int:
        return fake.handle("sendMessage", {"chat_id": chat_id, "text": "hi"}).status

    assert [send(1), send(1), send(1)] == [200, 200, 429]  # 2 in any second in one private chat
    assert fake.errors(429)[0].response["parameters"] == {"retry_after": 1}
    assert [send(2), send(3)] == [200, 429]  # overall: 3 in any second
    now[0] += 1.0
    assert [send(1), send(3)] == [200, 200]


def test_the_defaults_are_telegrams_sliding_windows() -> None:
    """30 in any sliding second per token (no burst on top), 1 a second per chat, 20 a minute per group."""
    now = [100.0]
    fake = FakeBotApi(rate_limits=RateLimits(), clock=lambda: now[0])

    def send(chat_id: int) -> int:
        return fake.handle("sendMessage", {"chat_id": chat_id, "text": "hi"}).status

    statuses, times = [], []
    for i in range(40):  # 40 chats over 1.3 s: the 31st within a second of the first is refused
        statuses.append(send(1000 + i))
        times += [now[0]] if statuses[-1] == 200 else []
        now[0] += 0.0325
    assert statuses[:30] == [200] * 30 and statuses[30] == 429 and statuses[-1] == 200
    assert all(sum(1 for t in times if s - 1.0 < t <= s) <= 30 for s in times)
    assert [send(7), send(7)] == [200, 429]
    now[0] += 0.999
    assert send(7) == 429
    now[0] += 0.001
    assert send(7) == 200
    group = []
    for _ in range(21):
        group.append(send(-100))
        now[0] += 1.0
    assert group == [200] * 20 + [429]  # 20 in any minute
    now[0] += 40.0  # the first falls out of the minute
    assert send(-100) == 200


def test_ptb_aioratelimiter_inside_the_limits_never_sees_a_429() -> None:
    """AIORateLimiter is a leaky bucket: a burst of N, then N a second, so N=14 stays under 30 in any second."""
    fake = FakeBotApi(rate_limits=RateLimits())

    async def scenario() -> None:
        app = (
            fake.application_builder()
            .updater(None)
            .rate_limiter(AIORateLimiter(overall_max_rate=14, overall_time_period=1, max_retries=0))
            .build()
        )
        async with app:
            await asyncio.gather(*(app.bot.send_message(chat_id, "news") for chat_id in range(1, 41)))

    run(scenario(), timeout=8)
    assert fake.errors(429) == []
    assert sum(len(fake.sent(chat_id)) for chat_id in range(1, 41)) == 40


def test_without_a_rate_limiter_a_burst_gets_429s() -> None:
    fake = FakeBotApi(rate_limits=RateLimits())
    for chat_id in range(1, 41):
        fake.handle("sendMessage", {"chat_id": chat_id, "text": "news"})
    assert len(fake.errors(429)) == 10


# --------------------------------------------------------------------------------------------- updates


def test_get_updates_offset_confirms_earlier_updates(fake: FakeBotApi) -> None:
    ids = [fake.user_message(CHAT, f"m{i}")["update_id"] for i in range(3)]

    async def scenario() -> None:
        async with fake.bot() as bot:
            assert [u.update_id for u in await bot.get_updates()] == ids
            assert [u.update_id for u in await bot.get_updates()] == ids  # nothing confirmed yet
            assert [u.update_id for u in await bot.get_updates(offset=ids[1], limit=1)] == ids[1:2]
            assert [u.update_id for u in await bot.get_updates()] == ids[1:]  # ids[0] is gone
            assert [u.update_id for u in await bot.get_updates(offset=-1)] == ids[2:]
            assert await bot.get_updates(offset=ids[2] + 1) == ()

    run(scenario())
    assert fake.pending_updates() == []
    assert fake.calls_to("getUpdates")[0].params == {}  # PTB leaves out what is None


def test_long_polling_returns_as_soon_as_an_update_arrives(fake: FakeBotApi) -> None:
    async def scenario() -> tuple[tuple[Update, ...], tuple[Update, ...], int]:
        async with fake.bot() as bot:
            poll = asyncio.create_task(bot.get_updates(timeout=10))
            await asyncio.sleep(0.1)
            fake.user_message(CHAT, "ping")
            updates = await asyncio.wait_for(poll, 5)  # woken by the update, not the poll's 10 s
            empty_poll = asyncio.create_task(bot.get_updates(offset=updates[-1].update_id + 1, timeout=0.3))
            await asyncio.sleep(0.1)
            held = fake.polls_waiting  # an empty poll is held for its timeout, not answered at once
            return updates, await empty_poll, held

    updates, empty, held = run(scenario())
    assert [u.message.text for u in updates] == ["ping"]
    assert empty == () and held == 1


def test_a_second_poller_terminates_the_first_with_409(fake: FakeBotApi) -> None:
    results: list[int] = []
    first = threading.Thread(target=lambda: results.append(fake.handle("getUpdates", {"timeout": 5}).status))
    first.start()
    fake.wait_for(lambda: fake.polls_waiting == 1, timeout=2)
    assert fake.handle("getUpdates", {"timeout": 0}).status == 200
    first.join(2)
    assert results == [409]
    assert "terminated by other getUpdates request" in fake.errors(409)[0].description


def test_polling_application_answers_a_queued_start_and_a_callback(fake: FakeBotApi) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_text(
            "Welcome! Pick a lesson.", reply_markup=keyboard(("Lesson 1", "open:l1"))
        )

    async def open_lesson(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        await query.answer("Opening…")
        await query.edit_message_text(f"Lesson {query.data.split(':')[1]}")

    fake.user_message(CHAT, "/start")  # waiting before the bot starts

    async def scenario() -> None:
        app = fake.application_builder().build()
        app.add_handler(CommandHandler("start", start))
        app.add_handler(CallbackQueryHandler(open_lesson))
        await app.initialize()
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            await fake.async_wait_for(lambda: fake.last_buttons(CHAT), timeout=3)
            fake.press(CHAT, "Lesson 1")  # arrives while a long poll is waiting
            await fake.async_wait_for(lambda: fake.answered_callbacks(), timeout=3)
            await fake.async_wait_for(lambda: fake.sent(CHAT)[-1].edited, timeout=3)
        finally:
            await app.updater.stop()
            await app.stop()
            await app.shutdown()

    run(scenario(), timeout=8)
    assert [(m.text, m.edited) for m in fake.sent(CHAT)] == [("Lesson l1", True)]
    answer = fake.answered_callbacks()[0]
    assert (answer.text, answer.data, answer.message_id) == ("Opening…", "open:l1", 2)
    assert fake.pending_updates() == []  # the updater confirmed both on stop
    assert fake.unanswered_callbacks() == []
    assert fake.calls_to("deleteWebhook")  # PTB's polling bootstrap
    assert fake.errors() == []


def test_answer_callback_query_is_recorded_and_only_once(fake: FakeBotApi) -> None:
    async def scenario() -> None:
        async with fake.bot() as bot:
            sent = await bot.send_message(
                CHAT, "Quiz", reply_markup=keyboard(("True", "a:1"), ("False", "a:0"))
            )
            update = Update.de_json(fake.callback(CHAT, sent.message_id, "a:1"), bot)
            assert update.callback_query.message.text == "Quiz"
            await update.callback_query.answer("Correct!", show_alert=True)
            with pytest.raises(BadRequest, match="Query is too old"):
                await update.callback_query.answer()
            with pytest.raises(BadRequest, match="Query is too old"):
                await bot.answer_callback_query("no-such-query")

    run(scenario())
    [answer] = fake.answered_callbacks()
    assert (answer.text, answer.show_alert, answer.chat_id, answer.message_id, answer.data) == (
        "Correct!",
        True,
        CHAT,
        1,
        "a:1",
    )


def test_set_my_commands_round_trips_and_checks_names(fake: FakeBotApi) -> None:
    async def scenario() -> tuple[Any, ...]:
        async with fake.bot() as bot:
            await bot.set_my_commands([("start", "Start learning"), ("progress", "Your XP")])
            with pytest.raises(BadRequest, match="Bot_command_invalid"):
                await bot.set_my_commands([("Start", "capitals are not allowed")])
            return await bot.get_my_commands()

    commands = run(scenario())
    assert [(c.command, c.description) for c in commands] == [
        ("start", "Start learning"),
        ("progress", "Your XP"),
    ]
    assert fake.commands() == [
        {"command": "start", "description": "Start learning"},
        {"command": "progress", "description": "Your XP"},
    ]


def test_chat_actions(fake: FakeBotApi) -> None:
    async def scenario() -> None:
        async with fake.bot() as bot:
            assert await bot.send_chat_action(CHAT, "typing") is True
            with pytest.raises(BadRequest, match="Wrong parameter action"):
                await bot.send_chat_action(CHAT, "dancing")

    run(scenario())


# --------------------------------------------------------------------------------------------- webhooks


def test_get_updates_while_a_webhook_is_set_is_409(fake: FakeBotApi) -> None:
    async def scenario() -> None:
        async with fake.bot() as bot:
            assert await bot.set_webhook("https://bot.example.invalid/hook", secret_token="s3cret")
            info = await bot.get_webhook_info()
            assert info.url == "https://bot.example.invalid/hook"
            with pytest.raises(Conflict, match="webhook is active"):
                await bot.get_updates()
            assert await bot.delete_webhook()
            assert await bot.get_updates() == ()

    run(scenario())
    assert fake.calls_to("setWebhook")[0].response["description"] == "Webhook was set"


class _Receiver(BaseHTTPRequestHandler):
    """A webhook endpoint that wants the secret "s3cret"."""

    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        allowed = self.headers.get(SECRET_HEADER) == "s3cret"
        if allowed:
            self.received.append(json.loads(body))
        self.send_response(200 if allowed else 403)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    handler = type("Receiver", (_Receiver,), {"received": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/telegram", handler.received
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(2)


def test_updates_are_posted_to_the_webhook_with_the_secret(
    fake: FakeBotApi, receiver: tuple[str, list]
) -> None:
    url, received = receiver
    assert fake.handle("setWebhook", {"url": url, "secret_token": "s3cret"}).status == 200
    update = fake.user_message(CHAT, "hello over webhook")
    assert fake.handle("getWebhookInfo").body["result"]["pending_update_count"] == 1
    assert fake.deliver_webhook() == [200]
    assert received == [update] and fake.pending_updates() == []

    extra = fake.user_message(CHAT, "no secret", enqueue=False)
    assert post_update(url, extra) == 403
    assert post_update(url, extra, secret_token="wrong") == 403
    assert post_update(url, extra, secret_token="s3cret") == 200
    with pytest.raises(ValueError, match="outside loopback"):
        post_update("https://example.com/hook", extra)


# --------------------------------------------------------------------------------------------- loopback HTTP


@ignore_retry_after_deprecation
def test_loopback_server_serves_ptb_over_real_http(fake: FakeBotApi, server: FakeBotApiServer) -> None:
    assert server.base_url.startswith("http://127.0.0.1:") and server.base_url.endswith("/bot")
    fake.fail_next("sendMessage", error_code=429, retry_after=1)

    async def scenario() -> None:
        async with Bot(**server.bot_kwargs()) as bot:
            assert (await bot.get_me()).username == "fiml_test_bot"
            with pytest.raises(RetryAfter):
                await bot.send_message(CHAT, "now")
            sent = await bot.send_message(CHAT, "now", reply_markup=keyboard(("Go", "go")))
            await bot.edit_message_text("done", CHAT, sent.message_id)
            with pytest.raises(BadRequest, match="not modified"):
                await bot.edit_message_text("done", CHAT, sent.message_id)
            with pytest.raises(BadRequest, match="Button_data_invalid"):
                await bot.send_message(CHAT, "x", reply_markup=keyboard(("x", "y" * 65)))
            fake.block(CHAT)
            with pytest.raises(Forbidden):
                await bot.send_message(CHAT, "blocked")

    run(scenario())
    assert [(m.text, m.edited) for m in fake.sent(CHAT)] == [("done", True)]


def test_loopback_server_long_polling_application(fake: FakeBotApi, server: FakeBotApiServer) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_text("Hi over HTTP")

    async def scenario() -> None:
        from telegram.ext import ApplicationBuilder

        kwargs = server.bot_kwargs()
        app = (
            ApplicationBuilder()
            .token(kwargs["token"])
            .base_url(kwargs["base_url"])
            .request(kwargs["request"])
            .get_updates_request(kwargs["get_updates_request"])
            .build()
        )
        app.add_handler(CommandHandler("start", start))
        async with app:
            await app.start()
            await app.updater.start_polling(poll_interval=0, timeout=1)
            try:
                await asyncio.sleep(0.1)  # a long poll is now waiting in a server thread
                fake.user_message(CHAT, "/start")
                await fake.async_wait_for(lambda: fake.sent(CHAT), timeout=3)
            finally:
                await app.updater.stop()
                await app.stop()

    run(scenario(), timeout=8)
    assert [m.text for m in fake.sent(CHAT)] == ["Hi over HTTP"]
    assert fake.pending_updates() == []
    assert fake.errors() == []  # the poll PTB abandoned on stop was not answered 409 behind its back


def test_loopback_server_accepts_json_bodies_and_stops_while_a_poll_waits(fake: FakeBotApi) -> None:
    server = FakeBotApiServer(fake).start()
    endpoint = f"{server.base_url}{fake.default_token}"
    with httpx.Client(trust_env=False, timeout=5) as client:
        answer = client.post(
            f"{endpoint}/sendMessage",
            json={
                "chat_id": CHAT,
                "text": "json",
                "reply_markup": {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]},
            },
        )
        assert answer.json()["result"]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "a"
        assert client.post(f"{endpoint}/nope").status_code == 404

    waiting = threading.Thread(
        target=lambda: httpx.post(
            f"{endpoint}/getUpdates", data={"timeout": "30"}, timeout=10, trust_env=False
        ),
        daemon=True,
    )
    waiting.start()
    fake.wait_for(lambda: fake.polls_waiting == 1, timeout=2)
    server.stop()
    waiting.join(5)  # the poll asked for 30 s: only an answer at stop ends it this early
    assert not waiting.is_alive()


def test_multipart_bodies_are_decoded_like_form_bodies() -> None:
    request = httpx.Request(
        "POST",
        "http://fakebotapi.invalid/bot1:a/sendDocument",
        data={"chat_id": "42", "caption": "123", "reply_markup": json.dumps({"inline_keyboard": []})},
        files={"document": ("notes.txt", b"hello", "text/plain")},
    )
    params, files = parse_body(request.headers["content-type"], request.read())
    assert params == {"chat_id": 42, "caption": "123", "reply_markup": {"inline_keyboard": []}}
    assert [(f.field, f.filename, f.data) for f in files] == [("document", "notes.txt", b"hello")]


_POLLING_BOT = """
import sys
from telegram.ext import ApplicationBuilder, CommandHandler

async def start(update, context):
    await update.message.reply_text("hello from a subprocess")

app = ApplicationBuilder().token(sys.argv[1]).base_url(sys.argv[2]).build()
app.add_handler(CommandHandler("start", start))
app.run_polling(poll_interval=0, timeout=1, stop_signals=None)
"""


@ignore_retry_after_deprecation
def test_a_polling_bot_in_a_subprocess_survives_a_429_storm(
    fake: FakeBotApi, server: FakeBotApiServer
) -> None:
    import os
    import subprocess
    import sys

    fake.fail_next("getUpdates", times=2, error_code=429, retry_after=1)
    fake.user_message(CHAT, "/start")
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    bot = subprocess.Popen(
        [sys.executable, "-c", _POLLING_BOT, fake.default_token, server.base_url],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        fake.wait_for(lambda: fake.sent(CHAT) or bot.poll() is not None, timeout=15)
    finally:
        bot.kill()
        _, stderr = bot.communicate(timeout=5)
    assert [m.text for m in fake.sent(CHAT)] == ["hello from a subprocess"], stderr.decode()[-2000:]
    assert len(fake.errors(429)) == 2


def test_strict_chats_and_user_messages_are_not_editable() -> None:
    fake = FakeBotApi(rate_limits=NO_LIMITS, strict_chats=True)
    fake.user_message(CHAT, "hi")

    async def scenario() -> None:
        async with fake.bot() as bot:
            with pytest.raises(BadRequest, match="Chat not found"):
                await bot.send_message(CHAT + 1, "stranger")
            with pytest.raises(BadRequest, match="Message can't be edited"):
                await bot.edit_message_text("rewritten", CHAT, 1)
            await bot.send_message(CHAT, "known chat")

    run(scenario())
    assert [m.text for m in fake.messages(CHAT)] == ["hi", "known chat"]


def test_async_webhook_delivery_stops_at_a_refusal(receiver: tuple[str, list]) -> None:
    url, received = receiver
    fake = FakeBotApi(rate_limits=NO_LIMITS)
    fake.handle("setWebhook", {"url": url, "secret_token": "wrong"})
    fake.user_message(CHAT, "one")
    fake.user_message(CHAT, "two")
    assert run(fake.adeliver_webhook()) == [403]  # Telegram keeps it and retries later
    assert len(fake.pending_updates()) == 2 and received == []
    fake.handle("setWebhook", {"url": url, "secret_token": "s3cret"})
    assert run(fake.adeliver_webhook()) == [200, 200]
    assert [u["message"]["text"] for u in received] == ["one", "two"]


def test_the_fakes_default_is_telegrams_documented_limits() -> None:
    """The fake tells the truth (issue 28): a test that needs looser limits must say so."""
    from testing.fakebotapi import NO_LIMITS, FakeBotApi, RateLimits

    assert FakeBotApi().rate_limits == RateLimits()
    assert (
        RateLimits().overall_per_second,
        RateLimits().per_chat_per_second,
        RateLimits().group_per_minute,
    ) == (
        30,
        1,
        20,
    )
    assert FakeBotApi(rate_limits=NO_LIMITS).rate_limits is None
