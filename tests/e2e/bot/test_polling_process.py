"""`fiml-bot run` in polling mode as a real subprocess against the loopback fake Bot API, through a 429 storm."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from testing.bot_process import stop, subprocess_env, wait_until
from testing.fakebotapi import NO_LIMITS, FakeBotApi, FakeBotApiServer

CHAT = 6161


def test_polling_subprocess_survives_a_429_storm(content_repo: Path, tmp_path: Path) -> None:
    fake = FakeBotApi(rate_limits=NO_LIMITS, max_poll_wait=2)
    with FakeBotApiServer(fake) as api:
        command = [
            sys.executable,
            "-m",
            "fiml_bot",
            "run",
            "--api-base-url",
            api.base_url,
            "--database",
            f"sqlite:///{tmp_path / 'var' / 'bot.db'}",
            "--content",
            str(content_repo),
            "--preview",
        ]
        process = subprocess.Popen(
            command,
            env=subprocess_env(fake.default_token),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_until(lambda: fake.calls_to("getUpdates"), 20, process, "the first getUpdates")
            fake.fail_next("sendMessage", times=5, error_code=429, retry_after=1)
            fake.user_message(CHAT, "/start")
            # the rate limiter waits retry_after after each 429 and tries again: the sixth attempt goes through
            sent = wait_until(lambda: fake.sent(CHAT), 20, process, "the /start reply")
            assert "Welcome" in sent[0].text
            assert len(fake.errors(429)) == 5
            assert len(fake.sent(CHAT)) == 1  # retried, never duplicated

            fake.user_message(CHAT, "/help")  # and it keeps serving
            wait_until(lambda: len(fake.sent(CHAT)) >= 2, 10, process, "the /help reply")
            assert process.poll() is None
        finally:
            code, err = stop(process)
    assert code == 0, err
    assert "Traceback" not in err, err
