"""A fake of Telegram's Bot API, as python-telegram-bot 22 sees it, for tests and benchmarks.

    fake = FakeBotApi()
    app = fake.application_builder().build()          # in process: httpx MockTransport, no network
    ...
    fake.user_message(42, "/start")                   # queued for getUpdates (or post it to a webhook)
    await fake.async_wait_for(lambda: fake.sent(42))
    assert fake.last_buttons(42) == [("Lesson 1", "open:l1")]

    with FakeBotApiServer(fake) as server:            # loopback HTTP, for a bot in a subprocess
        run_bot(api_base_url=server.base_url)

See api.py for the behaviour (limits, errors, injections) and README-like notes in each module.
"""

from .api import NO_LIMITS, FakeBotApi
from .formatting import EntityParseError, parse_html, utf16_len
from .server import SECRET_HEADER, FakeBotApiServer, apost_update, post_update
from .transport import (
    IN_PROCESS_BASE_URL,
    FakeTransport,
    application_builder,
    bot_kwargs,
)
from .values import (
    DEFAULT_TOKEN,
    NOT_MODIFIED,
    AnsweredCallback,
    ApiError,
    Call,
    ChatMessage,
    RateLimits,
    Reply,
    Webhook,
)

__all__ = [
    "DEFAULT_TOKEN",
    "IN_PROCESS_BASE_URL",
    "NOT_MODIFIED",
    "NO_LIMITS",
    "SECRET_HEADER",
    "AnsweredCallback",
    "ApiError",
    "Call",
    "ChatMessage",
    "EntityParseError",
    "FakeBotApi",
    "FakeBotApiServer",
    "FakeTransport",
    "RateLimits",
    "Reply",
    "Webhook",
    "apost_update",
    "application_builder",
    "bot_kwargs",
    "parse_html",
    "post_update",
    "utf16_len",
]
