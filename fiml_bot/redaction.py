"""Keeping the bot token out of every log line and error message.

The token is a password, and it travels inside request URLs (`.../bot<token>/getMe`), which httpx
logs, and inside python-telegram-bot's exceptions. A filter on the root logger's handlers sees every
record of every library (a filter on a logger would miss records its children propagate), and
rewrites the message and any formatted traceback before a handler writes it.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def masked(token: str) -> str:
    """`123456:ABC...` -> `123456:***`: the bot id stays (it is public and helps), the secret goes."""
    bot_id, _, secret = token.partition(":")
    return f"{bot_id}:***" if secret else "***"


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret (and, for a bot token, its secret half on its own) masked."""
    for secret in secrets:
        if not secret:
            continue
        text = text.replace(secret, masked(secret))
        _, _, half = secret.partition(":")
        if len(half) >= 8:
            text = text.replace(half, "***")
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's message and traceback with the secrets masked; never drops a record."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg, record.args = redact(message, self.secrets), None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        return True


def configure_logging(secrets: Iterable[str], level: int = logging.INFO) -> RedactingFilter:
    """Log to stderr with `secrets` masked on every root handler (installed by the CLI for run/notify)."""
    logging.basicConfig(level=level, format=LOG_FORMAT)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request: noise, even redacted
    handlers = logging.getLogger().handlers
    earlier = [f for h in handlers for f in h.filters if isinstance(f, RedactingFilter)]
    # A secret stays masked, once: each reconfiguration (a process that builds several bots, a test
    # session) would otherwise repeat the earlier secrets and make every record slower to log.
    kept = dict.fromkeys([*secrets, *(s for f in earlier for s in f.secrets)])
    redactor = RedactingFilter(kept)
    for handler in handlers:
        for old in [f for f in handler.filters if isinstance(f, RedactingFilter)]:
            handler.removeFilter(old)
        handler.addFilter(redactor)
    return redactor
