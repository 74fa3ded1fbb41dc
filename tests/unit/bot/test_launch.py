"""`fiml-bot run`'s Telegram settings, read from the options and the environment (fiml_bot/launch.py)."""

from __future__ import annotations

import pytest

from fiml_bot.adapters.webhook import WebhookConfigError
from fiml_bot.launch import telegram_settings
from fiml_cms.errors import UsageError

SECRET = "s" * 32


def settings(env: dict[str, str], **options: object):
    given = {"api_base_url": None, "webhook_url": None, "listen": None, "port": None, **options}
    return telegram_settings(env=env, **given)  # type: ignore[arg-type]


def test_polling_defaults() -> None:
    telegram = settings({"FIML_TELEGRAM_TOKEN": " 123:abc "})
    assert (telegram.token, telegram.webhook_url, telegram.rate_limit) == ("123:abc", None, True)


def test_no_token_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="set FIML_TELEGRAM_TOKEN"):
        settings({})


def test_listen_without_a_webhook_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--listen and --port are for webhook mode"):
        settings({"FIML_TELEGRAM_TOKEN": "1:a"}, port=9000)


def test_webhook_mode_needs_a_secret() -> None:
    with pytest.raises(WebhookConfigError):
        settings({"FIML_TELEGRAM_TOKEN": "1:a"}, webhook_url="https://bot.example.org/hook")


def test_webhook_mode() -> None:
    env = {"FIML_TELEGRAM_TOKEN": "1:a", "FIML_WEBHOOK_SECRET": SECRET, "FIML_TELEGRAM_RATE_LIMIT": "off"}
    telegram = settings(env, webhook_url="https://bot.example.org/hook", port=8080)
    assert (telegram.secret, telegram.listen, telegram.port, telegram.rate_limit) == (
        SECRET,
        "0.0.0.0",
        8080,
        False,
    )
