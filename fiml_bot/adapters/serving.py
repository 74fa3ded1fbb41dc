"""Runs the Telegram application for `fiml-bot run`: long polling, or a webhook server (with /healthz,
/readyz and /metrics) when a webhook URL is set. Blocks until the bot is stopped."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .telegram import build_application, default_builder, token_rejection

if TYPE_CHECKING:
    from ..tutor.engine import Tutor
    from .send_budget import SendBudget


@dataclass(frozen=True)
class TelegramSettings:
    """How the bot talks to Telegram: its token, and in webhook mode where updates arrive."""

    token: str
    api_base_url: str | None = None  # a self-hosted Bot API server
    webhook_url: str | None = None  # None: long polling
    secret: str = ""  # the webhook's secret token
    listen: str = "0.0.0.0"
    port: int = 8443
    rate_limit: bool = True  # FIML_TELEGRAM_RATE_LIMIT=off turns the send budget's limiter off


def serve(
    tutor: Tutor,
    telegram: TelegramSettings,
    *,
    budget: SendBudget,
    metrics: Any,
    exposition: Callable[[], bytes] | None = None,
    market: Any = None,
    keys: Any = None,
) -> None:
    """Serve learners until stopped; a token Telegram refuses becomes TokenRejected (no token in the log)."""
    options: dict[str, Any] = {
        "base_url": telegram.api_base_url,
        "budget": budget,
        "metrics": metrics,
        "rate_limit": telegram.rate_limit,
        "market": market,
        "keys": keys,
    }
    if telegram.webhook_url is None:
        with token_rejection(telegram.token, telegram.api_base_url):
            build_application(tutor, telegram.token, **options).run_polling(drop_pending_updates=False)
        return
    from .webhook import run_webhook

    application = build_application(
        tutor, telegram.token, builder=default_builder(telegram.token).updater(None), **options
    )
    with token_rejection(telegram.token, telegram.api_base_url):
        run_webhook(
            application,
            tutor,
            url=telegram.webhook_url,
            secret_token=telegram.secret,
            listen=telegram.listen,
            port=telegram.port,
            metrics=exposition,
        )
