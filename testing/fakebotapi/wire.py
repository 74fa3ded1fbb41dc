"""The HTTP side of the Bot API: URLs, request bodies, response bodies.

python-telegram-bot 22 POSTs every method to `{base_url}{token}/{method}` (base_url ends with `/bot`).
Without files the body is `application/x-www-form-urlencoded`; with files it is `multipart/form-data`.
In both, string values are sent as they are and every other value (ints, bools, lists, objects such as
`reply_markup`) is JSON-encoded (`telegram/request/_requestparameter.py`, `RequestParameter.json_value`).
So `chat_id=42`, `disable_notification=true`, `reply_markup={"inline_keyboard": ...}` but `text=42` is
the string "42": a value is JSON-decoded unless its parameter is known to be a string.
Telegram also accepts JSON bodies and query strings; both are read here too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

# Parameters whose values are free text: never JSON-decode them ("123" stays a string).
STRING_PARAMETERS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "url",
        "secret_token",
        "callback_query_id",
        "inline_message_id",
        "action",
        "language_code",
        "ip_address",
        "description",
        "short_description",
        "name",
        "title",
        "query_id",
        "emoji",
        "business_connection_id",
        "message_effect_id",
        "custom_emoji_id",
        "photo",
        "document",
        "audio",
        "video",
        "voice",
        "animation",
        "sticker",
        "video_note",
        "thumbnail",
        "address",
        "first_name",
        "last_name",
        "phone_number",
        "question",
        "explanation",
        "payload",
        "currency",
        "provider_token",
        "start_parameter",
        "game_short_name",
        "error_message",
        "pre_checkout_query_id",
        "shipping_query_id",
        "web_app_query_id",
        "result_id",
        "switch_pm_text",
        "next_offset",
        "button_text",
        "reaction",
        "invite_link",
        "sticker_set_name",
        "format",
    }
)


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request."""

    field: str
    filename: str | None
    content_type: str | None
    data: bytes


class WireError(Exception):
    """A request Telegram would reject before looking at the method (status, description)."""

    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status = status
        self.description = description


def split_path(path: str) -> tuple[str, str]:
    """`/bot123:ABC/sendMessage` -> ("123:ABC", "sendMessage"). The token is the segment before the method.

    A leading "bot" is stripped from the token segment, so any base_url ending in `/bot` works.
    """
    segments = [unquote(s) for s in path.split("/") if s]
    if len(segments) < 2:
        raise WireError(404, "Not Found")
    token_segment, method = segments[-2], segments[-1]
    token = token_segment.removeprefix("bot")
    return token, method


def decode_value(name: str, value: str) -> Any:
    """JSON-decode a form value unless the parameter is free text (see the module docstring)."""
    if name in STRING_PARAMETERS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def parse_body(
    content_type: str | None, body: bytes, query: str = ""
) -> tuple[dict[str, Any], list[UploadedFile]]:
    """The parameters (decoded) and uploaded files of a request."""
    params: dict[str, Any] = {}
    files: list[UploadedFile] = []
    for name, value in parse_qsl(query, keep_blank_values=True):
        params[name] = decode_value(name, value)
    mime = (content_type or "").split(";")[0].strip().lower()
    if not body:
        return params, files
    if mime == "application/json":
        try:
            decoded = json.loads(body)
        except ValueError as exc:
            raise WireError(400, "Bad Request: can't parse JSON object") from exc
        if not isinstance(decoded, dict):
            raise WireError(400, "Bad Request: JSON object expected")
        params.update(decoded)
    elif mime == "multipart/form-data":
        for part in _multipart_parts(content_type or "", body):
            name, filename, part_type, data = part
            if filename is None:
                params[name] = decode_value(name, data.decode("utf-8"))
            else:
                files.append(UploadedFile(name, filename, part_type, data))
    else:  # application/x-www-form-urlencoded, also the default when no content type is given
        for name, value in parse_qsl(body.decode("utf-8"), keep_blank_values=True):
            params[name] = decode_value(name, value)
    return params, files


def _multipart_parts(content_type: str, body: bytes) -> list[tuple[str, str | None, str | None, bytes]]:
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    parts = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        filename = part.get_filename()
        data = part.get_payload(decode=True) or b""
        part_type = part.get_content_type() if part.get("content-type") else None
        parts.append((str(name), filename, part_type, data))
    return parts


def path_and_query(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.path, parts.query


def ok_body(result: Any, description: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": True, "result": result}
    if description:
        body["description"] = description
    return body


def error_body(error_code: int, description: str, retry_after: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error_code": error_code, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return body


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
