"""`fiml-bot` as a child process in the tests: its environment, waiting on it, stopping it."""

from __future__ import annotations

import os
import signal
import subprocess

import httpx

from testing import waiting
from testing.repo import PROJECT

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def subprocess_env(token: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARIABLES and not k.startswith("FIML_")}
    env.update(
        {
            "FIML_TELEGRAM_TOKEN": token,
            "NO_PROXY": "127.0.0.1,localhost",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(PROJECT) + os.pathsep + env.get("PYTHONPATH", ""),
            **extra,
        }
    )
    return env


def wait_until(predicate, timeout: float, process: subprocess.Popen | None = None, what: str = "condition"):  # type: ignore[no-untyped-def]
    """`waiting.wait_until` for a bot process: an HTTP error is "not yet", the bot's exit is a failure."""

    def answered():  # type: ignore[no-untyped-def]
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the bot exited with {process.returncode} while waiting for {what}")
        try:
            return predicate()
        except httpx.HTTPError:
            return None

    return waiting.wait_until(answered, timeout, what)


def stop(process: subprocess.Popen, timeout: float = 10.0) -> tuple[int, str]:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        _, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
        raise AssertionError(f"the bot did not exit within {timeout} s of SIGTERM:\n{err}") from None
    return process.returncode, err
