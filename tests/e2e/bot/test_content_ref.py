"""`fiml_build_info{content_ref}` and `/readyz` name the content commit a replica serves, after every
refresh (issue 24 item 8: they kept the start-up commit), on a real `fiml-bot run` serving a git
content repository that gets a new published version while it runs."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from testing.cli import cli
from testing.fakebotapi import NO_LIMITS, FakeBotApi, FakeBotApiServer
from testing.release.cluster import bot_env, free_port, stop_process
from testing.repo import commit_all, git, replace_in

MARKET = "what_is_a_market"
LESSON = Path("content/lessons") / f"{MARKET}.yaml"


def build_ref(metrics: str) -> str | None:
    found = re.search(r'fiml_build_info\{[^}]*content_ref="([^"]+)"', metrics)
    return found[1] if found else None


def poll(read, wanted: str, process: subprocess.Popen, timeout: float = 60.0) -> str:  # type: ignore[no-untyped-def]
    """Read until `wanted` is there (bounded), failing if the bot exits."""
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the bot exited with {process.returncode}"
        try:
            seen = read()
        except httpx.HTTPError:
            seen = None
        if seen == wanted:
            return seen
        time.sleep(0.1)
    raise AssertionError(f"still {seen!r}, not {wanted!r}")


def tagged(repo: Path, version: str) -> str:
    return git(repo, "rev-list", "-n", "1", f"lesson/{MARKET}/v{version}")[:12]


def test_build_info_and_readyz_follow_each_content_refresh(git_repo: Path, tmp_path: Path) -> None:
    assert cli("tag", MARKET).exit_code == 0
    first = tagged(git_repo, "1.0.0")
    fake, port = FakeBotApi(rate_limits=NO_LIMITS), free_port()
    with FakeBotApiServer(fake) as api:
        command = [
            sys.executable,
            "-m",
            "fiml_bot",
            "run",
            "--webhook-url",
            f"http://127.0.0.1:{port}/telegram",
            "--listen",
            "127.0.0.1",
            "--port",
            str(port),
            "--api-base-url",
            api.base_url,
            "--database",
            f"sqlite:///{tmp_path / 'bot.db'}",
            "--content",
            str(git_repo),
        ]
        with open(tmp_path / "bot.log", "wb") as log:
            process = subprocess.Popen(
                command,
                env=bot_env(fake.default_token, FIML_CONTENT_REFRESH="3600"),  # only SIGHUP refreshes
                cwd=tmp_path,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            with httpx.Client(trust_env=False, timeout=5) as client:
                base = f"http://127.0.0.1:{port}"

                def metrics_ref() -> str | None:
                    return build_ref(client.get(f"{base}/metrics").text)

                def readyz_ref() -> str | None:
                    found = re.search(r"^content: (\S+)$", client.get(f"{base}/readyz").text, re.M)
                    return found[1] if found else None

                poll(metrics_ref, first, process)
                assert readyz_ref() == first

                # A new version is published; then an untagged edit moves HEAD past it: the replica
                # serves the tagged commit, not HEAD.
                replace_in(git_repo / LESSON, "organised marketplace", "organized marketplace")
                commit_all(git_repo, "wording")
                assert (
                    cli("bump", MARKET, "patch", "-m", "Wording", "--commit", "--tag", "--force").exit_code
                    == 0
                )
                second = tagged(git_repo, "1.0.1")
                (git_repo / "NOTES.md").write_text("draft\n", encoding="utf-8")
                head = commit_all(git_repo, "an unpublished draft")[:12]
                assert len({first, second, head}) == 3

                process.send_signal(signal.SIGHUP)
                poll(metrics_ref, second, process)
                poll(readyz_ref, second, process)
        finally:
            stop_process(process)
    assert "Traceback" not in (tmp_path / "bot.log").read_text(errors="replace")
