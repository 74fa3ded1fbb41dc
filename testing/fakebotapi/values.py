"""The values the fake hands out (calls, messages, answers) and Telegram's texts and limits."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .wire import UploadedFile

DEFAULT_TOKEN = "123456789:TEST-fakebotapi-token"
MAX_TEXT_LENGTH = 4096
MAX_CALLBACK_DATA_BYTES = 64
MAX_INLINE_BUTTONS = 100

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
BLOCKED = "Forbidden: bot was blocked by the user"
WEBHOOK_CONFLICT = "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
POLL_TERMINATED = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
)
POLL_TERMINATED_BY_WEBHOOK = "Conflict: terminated by setWebhook request"

CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
BUTTON_ACTIONS = frozenset(
    {
        "url",
        "callback_data",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    }
)
# getUpdates' default when allowed_updates is an empty list or was never given.
DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")

DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: BLOCKED,
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


# ---------------------------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Call:
    """One request the fake answered, in arrival order of the answers."""

    method: str  # canonical spelling ("sendMessage") when known, else as requested
    params: dict[str, Any]
    response: dict[str, Any]  # the JSON body answered ({"ok": ..., ...})
    status: int  # the HTTP status; 0 when the connection was dropped without an answer
    token: str | None = None
    files: tuple[UploadedFile, ...] = ()
    at: float = 0.0  # time.monotonic() when answered
    dropped: bool = False  # the client got no answer (disconnect_next); `response` is what it missed

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok"))

    @property
    def result(self) -> Any:
        return self.response.get("result")

    @property
    def error_code(self) -> int | None:
        return self.response.get("error_code")

    @property
    def description(self) -> str | None:
        return self.response.get("description")


@dataclass(frozen=True)
class ChatMessage:
    """The current state of one message of a chat."""

    chat_id: int
    message_id: int
    from_bot: bool
    text: str
    entities: list[dict[str, Any]]
    reply_markup: dict[str, Any] | None  # the inline keyboard, as Telegram returns it
    edited: bool
    edit_count: int
    raw: dict[str, Any]  # the Message object as Telegram would return it now

    @property
    def keyboard(self) -> list[list[tuple[str, str | None]]]:
        """Rows of (text, callback_data or url) of the inline keyboard."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [[(b.get("text", ""), b.get("callback_data", b.get("url"))) for b in row] for row in rows]

    @property
    def buttons(self) -> list[tuple[str, str | None]]:
        """The inline keyboard, flattened row by row."""
        return [button for row in self.keyboard for button in row]


@dataclass(frozen=True)
class AnsweredCallback:
    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None
    chat_id: int | None  # of the message the button was on
    message_id: int | None
    data: str | None


@dataclass(frozen=True)
class RateLimits:
    """Telegram's documented flood limits, as sliding windows: past them, 429 with `retry_after`.

    A token: at most `overall_per_second` counted messages in any sliding second (Telegram: 30); a
    private chat: `per_chat_per_second` in any sliding second (1); a group or channel (negative id):
    `group_per_minute` in any sliding minute (20). No burst on top of any of them. `RateLimits()` is
    Telegram's; a test that needs looser limits says so by naming them. Counted: sendMessage and
    the other sends, and, if `count_edits`, editMessageText / editMessageReplyMarkup.
    """

    overall_per_second: int = 30
    per_chat_per_second: int = 1
    group_per_minute: int = 20
    count_edits: bool = True


@dataclass(frozen=True)
class Webhook:
    url: str
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None
    ip_address: str | None = None


@dataclass(frozen=True)
class Reply:
    """What a transport should answer: an HTTP status and JSON body, or nothing (drop the connection)."""

    status: int
    body: dict[str, Any]
    drop_connection: bool = False


class ApiError(Exception):
    """Raised inside the fake's method handlers; becomes {"ok": false, ...}."""

    def __init__(self, error_code: int, description: str, retry_after: int | None = None):
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after


def bad_request(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")
