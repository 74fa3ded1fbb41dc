"""Issue 10.10: a rejected token is one line and exit 2; the token never reaches a log line."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from fiml_bot.redaction import RedactingFilter, configure_logging, redact
from testing.bot_process import subprocess_env
from testing.fakebotapi import NO_LIMITS, FakeBotApi, FakeBotApiServer

TOKEN = "987654:SECRET-token-do-not-print"


def test_redact_masks_the_token_and_its_secret_half() -> None:
    text = f"POST http://api/bot{TOKEN}/getMe and SECRET-token-do-not-print alone"
    assert redact(text, [TOKEN]) == "POST http://api/bot987654:***/getMe and *** alone"


def test_every_logger_is_redacted_including_httpx_and_ptb_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    configure_logging([TOKEN])
    logging.getLogger("httpx").setLevel(logging.INFO)
    logging.getLogger("httpx").info('HTTP Request: POST http://127.0.0.1/bot%s/getMe "HTTP/1.1 401"', TOKEN)
    try:
        raise RuntimeError(f"The token `{TOKEN}` was rejected by the server.")
    except RuntimeError:
        logging.getLogger("telegram.ext.Application").exception("Error while bootstrapping")
    handler_filters = [
        f for h in logging.getLogger().handlers for f in h.filters if isinstance(f, RedactingFilter)
    ]
    assert handler_filters
    output = "\n".join(caplog.handler.format(record) for record in caplog.records)
    assert "987654:***" in output and "Traceback" in output
    assert "SECRET" not in output


def run_bot(args: list[str], api_url: str, tmp_path: Path, content: Path) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "fiml_bot",
        *args,
        "--api-base-url",
        api_url,
        "--database",
        f"sqlite:///{tmp_path / 'var' / 'bot.db'}",
        "--content",
        str(content),
    ]
    env = subprocess_env(TOKEN, FIML_WEBHOOK_SECRET="s" * 32)
    return subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "mode",
    [
        ["run", "--preview"],
        [
            "run",
            "--preview",
            "--webhook-url",
            "https://bot.example/hook",
            "--listen",
            "127.0.0.1",
            "--port",
            "0",
        ],
        ["notify", "--since", "HEAD"],
    ],
)
def test_a_rejected_token_is_one_line_and_exit_2(mode: list[str], published: Path, tmp_path: Path) -> None:
    with FakeBotApiServer(FakeBotApi(rate_limits=NO_LIMITS, token="1:the-right-token")) as api:
        done = run_bot(
            mode, api.base_url, tmp_path, published
        )  # published: notify serves only tagged lessons
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "SECRET" not in output
    assert "Traceback" not in output
    errors = [line for line in done.stderr.splitlines() if "ERROR" in line or "error" in line]
    assert errors == [
        "fiml-bot: error: Telegram rejected the bot token 987654:*** (FIML_TELEGRAM_TOKEN): copy it again from @BotFather"
    ]


def test_a_second_configuration_masks_both_tokens(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    configure_logging(["111:FIRST-secret-token"])
    configure_logging([TOKEN])
    logging.getLogger("telegram").info("tokens 111:FIRST-secret-token and %s", TOKEN)
    output = "\n".join(caplog.handler.format(record) for record in caplog.records)
    assert "FIRST" not in output and "SECRET" not in output


def test_reconfiguring_keeps_each_secret_once() -> None:
    """Every `configure_logging` keeps the earlier secrets masked, without repeating them: a process
    (or a test session) that builds many bots must not make each log record slower to write."""
    for _ in range(50):
        configure_logging(["111:FIRST-secret-token", "222:SECOND-secret-token"])
    filters = {
        f
        for handler in logging.getLogger().handlers
        for f in handler.filters
        if isinstance(f, RedactingFilter)
    }
    assert len(filters) == 1
    secrets = filters.pop().secrets  # with those of the tests before: each once
    assert len(secrets) == len(set(secrets)) and {"111:FIRST-secret-token", "222:SECOND-secret-token"} <= set(
        secrets
    )
