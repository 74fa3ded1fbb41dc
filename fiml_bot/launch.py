"""What `fiml-bot run` and `fiml-bot notify` do once their options are parsed: the Telegram settings
from the environment, the operations (metrics, alerts, flags), the bot built and served, notices sent.

The CLI parses and prints; this module wires the pieces (bootstrap builds the tutor, the adapters talk
to Telegram). Heavy imports happen inside the functions: importing it costs nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fiml_cms.errors import UsageError

from .bootstrap import BotParts, BotSettings, build, start_background
from .settings import TELEGRAM_TOKEN

if TYPE_CHECKING:
    from .adapters.serving import TelegramSettings
    from .keys.commands import KeyCommands
    from .keys.vault import KeyVault
    from .marketdata.blocking import BlockingMarketData
    from .marketdata.service import MarketData
    from .notify import LessonUpdate, Notice, Report
    from .ops.runtime import Operations
    from .settings import Settings


def telegram_token(env: Mapping[str, str]) -> str:
    """The bot's token (FIML_TELEGRAM_TOKEN), "" when unset."""
    return TELEGRAM_TOKEN.read(env)


def require_token(token: str) -> str:
    if not token:
        raise UsageError(f"set {TELEGRAM_TOKEN.name} to the bot's token (from @BotFather)")
    return token


def telegram_settings(
    *,
    api_base_url: str | None,
    webhook_url: str | None,
    listen: str | None,
    port: int | None,
    env: Mapping[str, str],
) -> TelegramSettings:
    """`run`'s Telegram settings: the options, the token and webhook secret from the environment;
    UsageError (or WebhookConfigError) for settings that cannot work."""
    from .adapters.serving import TelegramSettings
    from .settings import TELEGRAM_RATE_LIMIT, WEBHOOK_SECRET

    token = require_token(telegram_token(env))
    secret = WEBHOOK_SECRET.read(env)
    if webhook_url is None and (listen is not None or port is not None):
        raise UsageError("--listen and --port are for webhook mode: give --webhook-url too")
    if webhook_url is not None:
        from .adapters.webhook import check_secret, webhook_path

        check_secret(secret)
        webhook_path(webhook_url)
    return TelegramSettings(
        token,
        api_base_url=api_base_url,
        webhook_url=webhook_url,
        secret=secret,
        listen=listen or "0.0.0.0",
        port=8443 if port is None else port,
        rate_limit=TELEGRAM_RATE_LIMIT.read(env),
    )


def operations(
    settings: BotSettings,
    token: str,
    api_base_url: str | None,
    metrics_port: int | None,
    *,
    watch_flags: bool = True,
) -> Operations:
    """Metrics, alerts (FIML_ALERT_WEBHOOK_URL, FIML_ADMIN_CHAT_ID) and the feature flags; /metrics on `metrics_port`."""
    from .ops.runtime import Operations
    from .settings import ADMIN_CHAT_ID, METRICS_LISTEN

    admin_chat = None
    chat_id = settings.env.value(ADMIN_CHAT_ID)
    if chat_id:
        from .adapters.admin_chat import TelegramAdminChat

        admin_chat = TelegramAdminChat(token, chat_id, api_base_url)
    ops = Operations.from_env(settings.content, settings.env, admin_chat=admin_chat, watch_flags=watch_flags)
    if metrics_port is not None:
        try:
            ops.metrics.serve(metrics_port, settings.env.value(METRICS_LISTEN))
        except OSError as exc:
            raise UsageError(f"--metrics-port {metrics_port}: {exc.strerror or exc}") from None
    return ops


def _publish_build_info(ops: Operations, parts: BotParts, settings: BotSettings) -> None:
    from .ops.runtime import build_info

    ops.metrics.set_build(**build_info(parts.content, settings.database_url, settings.env))


def _auto_upgrade(settings: BotSettings) -> bool:
    """A SQLite database is migrated on start; a shared server's is migrated by `fiml-bot db upgrade`."""
    return settings.database_url.startswith("sqlite")


def run_bot(settings: BotSettings, telegram: TelegramSettings, metrics_port: int | None) -> None:
    """`fiml-bot run`: build the bot with its operations and serve Telegram until stopped."""
    from .adapters.send_budget import open_budget
    from .adapters.serving import serve
    from .ops.runtime import content_ref, database_answers
    from .plugins import install

    ops = operations(settings, telegram.token, telegram.api_base_url, metrics_port)
    parts = build(settings, auto_upgrade=_auto_upgrade(settings), ops=ops)
    install(parts.tutor, settings.env)
    _publish_build_info(ops, parts, settings)
    budget = open_budget(
        telegram.token, settings.database_url, settings.env
    )  # shared by every replica and notify
    vault, keys = learner_keys(settings, count=ops.metrics.market_data_request)
    market = market_data(settings.env, count=ops.metrics.market_data_request, vault=vault)
    live = start_background(parts, settings, prune_events=True)
    live.refresher.on_refreshed.append(lambda: ops.metrics.set_content_ref(content_ref(parts.content)))
    ops.watch_database(lambda: database_answers(parts.tutor))
    ops.start()
    try:
        serve(
            parts.tutor,
            telegram,
            budget=budget,
            metrics=ops.metrics,
            exposition=ops.metrics.exposition,
            market=market,
            keys=keys,
        )
    finally:
        ops.stop()
        live.stop()


def learner_keys(
    settings: BotSettings, *, count: Callable[[str, str], None] | None = None
) -> tuple[KeyVault, KeyCommands]:
    """Learners' stored provider keys; exit 2 when stored keys cannot be decrypted (FIML_KEY_ENCRYPTION_KEYS)."""
    from .keys.vault import require_readable
    from .keys.wiring import key_commands, open_vault

    vault = open_vault(settings.env, settings.database_url)
    require_readable(vault)
    return vault, key_commands(settings.env, vault, count)


def market_data(
    env: Settings, *, count: Callable[[str, str], None] | None = None, vault: KeyVault | None = None
) -> MarketData | None:
    """Live sections' data provider (FIML_MARKET_DATA_PROVIDER), or None: sections show their fallback.
    With a vault, a learner's own key for the provider is tried first."""
    from .marketdata.wiring import open_market_data

    if vault is None:
        return open_market_data(env, count=count)
    return open_market_data(
        env, count=count, learner_key=vault.get, key_used=vault.used, used_today=vault.used_today
    )


def terminal_market_data(env: Settings, vault: KeyVault | None = None) -> BlockingMarketData:
    """`chat`'s live data (charts saved as PNG files in FIML_CHART_DIR, default <tmp>/fiml-charts) and
    the loop its key commands run on."""
    import tempfile
    from pathlib import Path

    from .marketdata.blocking import BlockingMarketData
    from .settings import CHART_DIR

    folder = env.value(CHART_DIR)
    return BlockingMarketData(
        market_data(env, vault=vault),
        Path(folder) if folder else Path(tempfile.gettempdir()) / "fiml-charts",
    )


def run_chat(settings: BotSettings, user: str, *, fetch: bool) -> int:
    """`fiml-bot chat`: the tutor in the terminal as the learner `user`, reading stdin; its exit code."""
    import getpass
    import sys

    from .adapters.console import ConsoleChat
    from .bootstrap import chat_fetches

    parts = build(settings, auto_upgrade=True)
    parts.content.fetch = chat_fetches(fetch, settings)
    tutor = parts.tutor
    learner = f"console:{user}"
    vault, keys = learner_keys(settings)
    market = terminal_market_data(settings.env, vault)
    interactive = sys.stdin.isatty()
    chat_ = ConsoleChat(
        lambda event: tutor.handle(learner, event, name=user),
        render=lambda message: market.text(message, learner),
        commands=lambda name, argument: market.run(keys.handle(learner, name, argument)),
        secret_input=getpass.getpass if interactive else None,
    )
    refresher = start_background(parts, settings)
    try:
        return chat_.run(sys.stdin, interactive=interactive)
    finally:
        refresher.stop()
        market.close()


@dataclass
class NotifyRun:
    """A broadcast (`notify`, `announce`, `remind`) between selecting and sending: the bot, and its
    operations (None in a dry run). The `BroadcastJob` that services/broadcasts.py is handed."""

    settings: BotSettings
    parts: BotParts
    ops: Operations | None
    token: str
    api_base_url: str | None

    @classmethod
    def open(
        cls, settings: BotSettings, *, api_base_url: str | None, metrics_port: int | None, dry_run: bool
    ) -> NotifyRun:
        token = telegram_token(settings.env)
        ops = None if dry_run else operations(settings, token, api_base_url, metrics_port, watch_flags=False)
        parts = build(settings, auto_upgrade=_auto_upgrade(settings), ops=ops)
        if ops is not None:
            _publish_build_info(ops, parts, settings)
        return cls(settings, parts, ops, token, api_base_url)

    @property
    def storage(self) -> Any:
        """The progress store the broadcast selects from and records in."""
        return self.parts.storage

    def require_token(self) -> str:
        """The token; a usage error naming FIML_TELEGRAM_TOKEN when it is unset."""
        return require_token(self.token)

    def select(self, since: str) -> tuple[dict[str, LessonUpdate], list[Notice]]:
        """The lesson updates since the git ref `since`, and who is told about which."""
        from . import notify

        updates = notify.updates_since(self.parts.content, since)
        return updates, notify.select(self.parts.storage, self.parts.content, updates)

    def send(
        self,
        notices: Sequence[Any],
        *,
        rate: float | None,
        paid: bool,
        record: Callable[[Any], bool] | None = None,
    ) -> Report:
        """Send through the fleet's shared budget at broadcast priority; alert when some failed."""
        import asyncio

        from . import notify
        from .adapters.notify_sender import TelegramNoticeSender
        from .adapters.rate_limiter import FleetRateLimiter
        from .adapters.send_budget import Priority, open_budget
        from .adapters.telegram import token_rejection

        token = require_token(self.token)
        budget = open_budget(token, self.settings.database_url, self.settings.env)
        metrics = self.ops.metrics if self.ops is not None else None
        limiter = FleetRateLimiter(budget, priority=Priority.BROADCAST, metrics=metrics)

        async def send() -> Report:
            sender = TelegramNoticeSender.for_token(
                token, base_url=self.api_base_url, rate_limiter=limiter, paid=paid
            )
            async with sender:
                report = await notify.broadcast(
                    sender,
                    self.parts.storage,
                    notices,
                    deactivate=self.parts.tutor.deactivate,
                    rate=rate,
                    metrics=metrics,
                    record=record,
                )
            report.retries += limiter.retries  # the 429s the limiter paused for and retried
            return report

        with token_rejection(token, self.api_base_url):
            return asyncio.run(send())

    def paid_cost(self, notices: Sequence[Notice]) -> tuple[int, float]:
        """(messages, Telegram Stars at most) of sending `notices` as a paid broadcast."""
        from .adapters.notify_sender import paid_cost

        return paid_cost(notices)

    def finish(self, report: Report | None) -> None:
        """Alert on notices not delivered (FIML_ALERT_WEBHOOK_URL), then flush and stop the operations."""
        if self.ops is None:
            return
        if report is not None and report.failed and self.ops.alerts is not None:
            from .ops.alerts import Alert

            self.ops.alerts.send(
                Alert(
                    "NotifyDeliveryFailed",
                    "warning",
                    f"fiml-bot notify: {len(report.failed)} notice(s) not delivered",
                    report.summary(),
                )
            )
        self.ops.stop()


def quiet_logging(token: str, dry_run: bool) -> None:
    """notify's logging: the token masked; INFO while sending, WARNING for a dry run."""
    from .redaction import configure_logging

    configure_logging([token], logging.WARNING if dry_run else logging.INFO)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # a schema upgrade's step-by-step lines are noise
