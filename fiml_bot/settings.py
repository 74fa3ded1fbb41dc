"""The bot's FIML_* variables, added to the content tool's (fiml_cms/settings.py): each defined once.

`load(env)` is what the entry points call with `os.environ`: every variable parsed and checked
(optional extras included) before a command does anything, one error (exit 2) listing each bad one.
`python -m fiml_bot.settings --markdown` prints the README's configuration table from these
definitions; a test fails when the README differs.
"""

from __future__ import annotations

import base64
import binascii
import sys
from collections.abc import Mapping
from typing import Any

from fiml_cms.settings import (
    CMS_SETTINGS,
    DATABASE_URL,
    DEBUG,
    FLAGS_FILE,
    Extra,
    Setting,
    Settings,
    SettingsError,
    choice,
    flag,
    markdown_table,
    names,
    number,
    option_help,
    text,
    url,
    whole,
)

__all__ = ["ALL", "DATABASE_URL", "DEBUG", "FLAGS_FILE", "Settings", "SettingsError", "load", "option_help"]

HTTP = ("http", "https")


def fernet_keys(raw: str) -> tuple[str, ...]:
    """Fernet keys, comma-separated: each 32 bytes in url-safe base64 (checked without cryptography)."""
    entries = names(raw)
    for position, entry in enumerate(entries, 1):
        try:
            ok = len(base64.urlsafe_b64decode(entry.encode())) == 32
        except (binascii.Error, ValueError):
            ok = False
        if not ok:
            raise ValueError(
                f"entry {position} of {len(entries)} is not a Fernet key (32 bytes, url-safe base64); "
                "give Fernet keys, comma-separated, newest first (make one with `fiml-bot keys generate`)"
            )
    return entries


# --------------------------------------------------------------------------------- content and data
CONTENT_REPO = Setting(
    "FIML_CONTENT_REPO",
    text,
    ".",
    "The content repository the bot serves (`--content` overrides it).",
    shown_default="the current folder",
)
CONTENT_REMOTE = Setting(
    "FIML_CONTENT_REMOTE",
    text,
    "",
    "Where the bot fetches new tags and release branches: a remote name or URL.",
    shown_default="the clone's `origin`, if any",
)
CONTENT_REFRESH = Setting(
    "FIML_CONTENT_REFRESH",
    number("the seconds between content refreshes, e.g. 10 (0: only on SIGHUP)", low=0),
    10.0,
    "Seconds between content refreshes while the bot runs; `0`: only on `kill -HUP`.",
    shown_default="10",
)
EVENT_RETENTION_HOURS = Setting(
    "FIML_EVENT_RETENTION_HOURS",
    number(
        "a number of hours above 24, e.g. 48 (Telegram redelivers an update for up to 24 h)",
        low=24,
        above=True,
    ),
    48.0,
    "Hours processed update ids are kept (more than Telegram's 24 h redelivery window).",
    shown_default="48",
)
SNAPSHOT_DIR = Setting(
    "FIML_SNAPSHOT_DIR", text, "", "Where `fiml-bot db snapshot` writes.", shown_default="`var/snapshots`"
)
PG_BINDIR = Setting(
    "FIML_PG_BINDIR",
    text,
    "",
    "The folder of `pg_dump` and `pg_restore` (at least the server's version).",
    shown_default="`PATH`",
)
# ----------------------------------------------------------------------------------------- Telegram
TELEGRAM_TOKEN = Setting(
    "FIML_TELEGRAM_TOKEN", text, "", "The bot's token from @BotFather (`run`, `notify`; `make run`)."
)
TELEGRAM_API_URL = Setting(
    "FIML_TELEGRAM_API_URL",
    url(*HTTP, example="http://127.0.0.1:8081/bot"),
    "",
    "A self-hosted Bot API server (PTB's base_url), e.g. http://127.0.0.1:8081/bot.",
    shown_default="Telegram's",
    option="--api-base-url",
)
TELEGRAM_RATE_LIMIT = Setting(
    "FIML_TELEGRAM_RATE_LIMIT",
    flag,
    True,
    "`off`: no limit of the bot's own on outgoing messages (for a fake Bot API only: Telegram enforces one).",
    shown_default="on",
)
WEBHOOK_URL = Setting(
    "FIML_WEBHOOK_URL",
    url(*HTTP, example="https://bot.example.org/telegram"),
    "",
    "Webhook mode: the public URL Telegram posts updates to (its path is served); the secret token comes from FIML_WEBHOOK_SECRET.",
    shown_default="long polling",
    option="--webhook-url",
)
WEBHOOK_SECRET = Setting(
    "FIML_WEBHOOK_SECRET",
    text,
    "",
    "Webhook mode: the secret token Telegram sends with each update (required).",
)
WEBHOOK_LISTEN = Setting(
    "FIML_WEBHOOK_LISTEN",
    text,
    "",
    "Webhook mode: the address to listen on.",
    shown_default="0.0.0.0",
    option="--listen",
)
WEBHOOK_PORT = Setting(
    "FIML_WEBHOOK_PORT",
    whole("a port number from 0 to 65535", high=65535),
    None,
    "Webhook mode: the port to listen on.",
    shown_default="8443",
    option="--port",
)
TELEGRAM_RATE = Setting(
    "FIML_TELEGRAM_RATE",
    whole("a whole number of messages a second from 1 to 1000, e.g. 28", low=1, high=1000),
    28,
    "The send budget's cap: counted messages in any second per token.",
    shown_default="28",
)
BROADCAST_SHARE = Setting(
    "FIML_BROADCAST_SHARE",
    number("a share of the cap, e.g. 0.9 (the broadcast share must be in (0, 1])", low=0, high=1, above=True),
    0.9,
    "The most of the cap a broadcast (`notify`) paces itself to.",
    shown_default="0.9",
)
SEND_BUDGET = Setting(
    "FIML_SEND_BUDGET",
    choice(("memory", "redis", "database")),
    "",
    "Where the fleet's send budget is kept: `memory`, `redis` or `database` (table `send_budget`). On one machine with SQLite, set `database` so `run` and `notify` share it.",
    shown_default="`redis` with `FIML_REDIS_URL`, else `database` on PostgreSQL, else `memory`",
)
REDIS_URL = Setting(
    "FIML_REDIS_URL",
    url("redis", "rediss", "unix", example="redis://127.0.0.1:6379/0"),
    "",
    "Keep the send budget (and the market-data cache) in Redis, e.g. `redis://127.0.0.1:6379/0`.",
    extra=Extra("redis", "redis"),
)
PLUGINS: Setting[tuple[str, ...]] = Setting(
    "FIML_PLUGINS",
    names,
    (),
    "Modules (comma-separated) whose `install(tutor)` runs before `run` serves (drills and benchmarks).",
)
# ------------------------------------------------------------------------------------------ operations
METRICS_PORT = Setting(
    "FIML_METRICS_PORT",
    whole("a port number from 1 to 65535", low=1, high=65535),
    None,
    "Serve Prometheus /metrics on this port (address: FIML_METRICS_LISTEN).",
    shown_default="no metrics server",
    option="--metrics-port",
)
METRICS_LISTEN = Setting(
    "FIML_METRICS_LISTEN", text, "0.0.0.0", "The address of the metrics server.", shown_default="0.0.0.0"
)
COLOR = Setting("FIML_COLOR", text, "", "The deployment color (`blue`, `green`) shown in `fiml_build_info`.")
ALERT_WEBHOOK_URL = Setting(
    "FIML_ALERT_WEBHOOK_URL",
    url(*HTTP, example="https://alerts.example.org/hook"),
    "",
    "Where alerts are posted (Alertmanager's webhook payload).",
    shown_default="no alerts",
)
ADMIN_CHAT_ID = Setting("FIML_ADMIN_CHAT_ID", text, "", "A Telegram chat the bot also sends its alerts to.")
ALERT_STATE = Setting(
    "FIML_ALERT_STATE",
    text,
    "",
    "The file that remembers firing alerts between runs of the CLI commands.",
    shown_default="`var/alerts.json`",
)
INSTANCE = Setting(
    "FIML_INSTANCE", text, "", "The name alerts are sent under.", shown_default="the host name"
)
FLAGS_RELOAD_SECONDS = Setting(
    "FIML_FLAGS_RELOAD_SECONDS",
    number("a number of seconds from 0.5 to 86400", low=0.5, high=86400),
    30.0,
    "Seconds between checks of the flag file (also on SIGHUP).",
    shown_default="30",
)
ROLLOUT = Setting(
    "FIML_ROLLOUT",
    text,
    "deploy/rollout.yaml",
    "The blue-green rollout file.",
    shown_default="`deploy/rollout.yaml`",
    option="--config",
)
KILL_AT = Setting(
    "FIML_KILL_AT",
    text,
    "",
    "The crash tests' fault injector, never for production: `POINT[:group|:connection]` kills the process at that point of `db restore`, `db snapshot` or `db rehearse` (armed once at start-up).",
)
# ------------------------------------------------------------------------------------- market data
MARKET_DATA_PROVIDER = Setting(
    "FIML_MARKET_DATA_PROVIDER",
    choice(("alphavantage", "finnhub"), none=("off", "none")),
    "",
    "`alphavantage` or `finnhub`; unset: live sections show their fallback.",
)
MARKET_DATA_KEY = Setting(
    "FIML_MARKET_DATA_KEY",
    text,
    "",
    "The operator's key for that provider (learners' own keys are tried first).",
)
MARKET_DATA_TTL = Setting(
    "FIML_MARKET_DATA_TTL",
    number("the quote cache's lifetime in seconds, above 0, e.g. 60", low=0, above=True),
    60.0,
    "Seconds a quote or chart is reused for every learner (with `FIML_REDIS_URL`, of every replica).",
    shown_default="60",
)
MARKET_DATA_DEADLINE = Setting(
    "FIML_MARKET_DATA_DEADLINE",
    number("seconds to wait for a provider, above 0, e.g. 2", low=0, above=True),
    2.0,
    "Seconds a learner's section waits for the provider before its fallback is sent.",
    shown_default="2",
)
MARKET_DATA_DELAY_MINUTES = Setting(
    "FIML_MARKET_DATA_DELAY_MINUTES",
    number("your plan's delay in minutes, 0 or more, e.g. 15", low=0),
    0.0,
    'Your plan\'s delay, shown as "15 min delayed".',
    shown_default="0",
)
MARKET_DATA_URL = Setting(
    "FIML_MARKET_DATA_URL",
    url(*HTTP, example="https://proxy.example.org"),
    "",
    "Another address for the providers' APIs (a proxy).",
)
CHART_DIR = Setting(
    "FIML_CHART_DIR",
    text,
    "",
    "Where `fiml-bot chat` saves chart pictures.",
    shown_default="`<tmp>/fiml-charts`",
)
KEY_ENCRYPTION_KEYS: Setting[tuple[str, ...]] = Setting(
    "FIML_KEY_ENCRYPTION_KEYS",
    fernet_keys,
    (),
    "Fernet keys (`fiml-bot keys generate`), comma-separated, newest first, that encrypt learners' keys; without it `/addkey` stores nothing. With keys stored, a missing or wrong value stops `run` and `chat` (exit 2) and `doctor` reports it.",
)

BOT_SETTINGS: tuple[Setting[Any], ...] = (
    CONTENT_REPO,
    CONTENT_REMOTE,
    CONTENT_REFRESH,
    EVENT_RETENTION_HOURS,
    SNAPSHOT_DIR,
    PG_BINDIR,
    TELEGRAM_TOKEN,
    TELEGRAM_API_URL,
    TELEGRAM_RATE_LIMIT,
    WEBHOOK_URL,
    WEBHOOK_SECRET,
    WEBHOOK_LISTEN,
    WEBHOOK_PORT,
    TELEGRAM_RATE,
    BROADCAST_SHARE,
    SEND_BUDGET,
    REDIS_URL,
    PLUGINS,
    METRICS_PORT,
    METRICS_LISTEN,
    COLOR,
    ALERT_WEBHOOK_URL,
    ADMIN_CHAT_ID,
    ALERT_STATE,
    INSTANCE,
    FLAGS_RELOAD_SECONDS,
    ROLLOUT,
    KILL_AT,
    MARKET_DATA_PROVIDER,
    MARKET_DATA_KEY,
    MARKET_DATA_TTL,
    MARKET_DATA_DEADLINE,
    MARKET_DATA_DELAY_MINUTES,
    MARKET_DATA_URL,
    CHART_DIR,
    KEY_ENCRYPTION_KEYS,
)
#: Every FIML_* variable of both commands, in the README's order.
ALL: tuple[Setting[Any], ...] = (*CMS_SETTINGS, *BOT_SETTINGS)


def load(env: Mapping[str, str]) -> Settings:
    """Every FIML_* setting read and checked from `env` (an entry point's `os.environ`)."""
    return Settings.load(env, ALL)


def main(argv: list[str] | None = None) -> int:
    """`python -m fiml_bot.settings --markdown`: the README's configuration table."""
    args = sys.argv[1:] if argv is None else argv
    if args != ["--markdown"]:
        print("usage: python -m fiml_bot.settings --markdown", file=sys.stderr)
        return 2
    sys.stdout.write(markdown_table(ALL))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
