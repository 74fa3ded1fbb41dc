"""Webhook mode: the tornado server in process against the in-process fake, and `fiml-bot run --webhook-url`
as a subprocess against the loopback fake server."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from telegram.ext import MessageHandler, filters
from typer.testing import CliRunner

from fiml_bot.adapters.telegram import build_application
from fiml_bot.adapters.webhook import SECRET_HEADER, WebhookConfigError, WebhookServer
from fiml_bot.cli import app as cli_app
from fiml_bot.tutor.engine import Tutor
from fiml_bot.tutor.ports import StorageUnavailable
from testing.bot_process import stop, subprocess_env, wait_until
from testing.cli import cli
from testing.fakebotapi import NO_LIMITS, FakeBotApi, FakeBotApiServer, apost_update, post_update
from testing.tutor_driver import make_tutor
from testing.webhook import CHAT, SECRET, InProcess, free_port, tutor_with_outage


@pytest.fixture
def fake() -> FakeBotApi:
    return FakeBotApi(rate_limits=NO_LIMITS)


def test_webhook_routes_in_process(published: Path, fake: FakeBotApi) -> None:
    tutor, _ = make_tutor(published)

    async def scenario() -> None:
        async with InProcess(tutor, fake) as h:
            hook = fake.webhook
            assert hook is not None and hook.url == h.url and hook.secret_token == SECRET
            assert set(hook.allowed_updates or []) == {"message", "callback_query"}
            assert fake.calls_to("setMyCommands")

            start = fake.user_message(CHAT, "/start", enqueue=False)
            assert await apost_update(h.url, start) == 403  # no secret
            assert await apost_update(h.url, start, "wrong-secret") == 403
            assert fake.sent(CHAT) == []

            assert await apost_update(h.url, start, SECRET) == 200
            sent = fake.sent(CHAT)  # checked at once: the reply went out before the 200 came back
            assert sent and "Welcome" in sent[0].text

            assert await apost_update(h.url, start, SECRET) == 200  # Telegram redelivers: applied once
            assert len(fake.sent(CHAT)) == len(sent)

            bad = await h.client.post(h.url, content=b"{not json", headers={SECRET_HEADER: SECRET})
            assert bad.status_code == 400
            not_update = await h.client.post(h.url, content=b"[1, 2]", headers={SECRET_HEADER: SECRET})
            assert not_update.status_code == 400

            health = await h.client.get(h.base("/healthz"))
            assert health.status_code == 200 and health.text.strip() == "ok"
            ready = await h.client.get(h.base("/readyz"))
            assert ready.status_code == 200
            from fiml_bot.storage.window import code_window

            assert "schema: " in ready.text and f"this code runs on {code_window().describe()}" in ready.text
            assert (await h.client.get(h.base("/nowhere"))).status_code == 404

    asyncio.run(scenario())


def test_an_exception_while_processing_answers_500_and_the_retry_applies_once(
    published: Path, fake: FakeBotApi
) -> None:
    tutor, _ = make_tutor(published)
    fails = {"left": 1}

    async def crash_once(update: object, context: object) -> None:
        if fails["left"]:
            fails["left"] -= 1
            raise RuntimeError("the process died mid-update")

    async def scenario() -> None:
        async with InProcess(tutor, fake) as h:
            h.application.add_handler(MessageHandler(filters.ALL, crash_once), group=-1)
            start = fake.user_message(CHAT, "/start", enqueue=False)
            # PTB runs the other handler groups after a failing one: the tutor applied and answered, but
            # the delivery failed as a whole, so it is answered 500 and Telegram will deliver it again
            assert await apost_update(h.url, start, SECRET) == 500
            assert len(fake.sent(CHAT)) == 1
            assert await apost_update(h.url, start, SECRET) == 200  # the retry: applied at most once
            assert len(fake.sent(CHAT)) == 1

    asyncio.run(scenario())


def test_a_bug_on_a_release_canary_answers_500_without_an_apology_and_stays_as_it_was_elsewhere(
    published: Path, fake: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HAProxy marks updates it routes to a running release's new color (X-Fiml-Role: canary): a bug
    there must not be answered as done, or Telegram never redelivers the update to the old color."""
    import json

    from fiml_bot.adapters.webhook import ROLE_HEADER
    from fiml_bot.tutor import screens

    tutor, _ = make_tutor(published)
    start_screen = screens.start
    broken = {"yes": True}

    def buggy_start(turn: object) -> object:
        if broken["yes"]:
            raise KeyError("a bug in the new code")
        return start_screen(turn)  # type: ignore[arg-type]

    monkeypatch.setattr(screens, "start", buggy_start)

    async def scenario() -> None:
        async with InProcess(tutor, fake) as h:

            async def post(update: dict, *, canary: bool) -> int:  # type: ignore[type-arg]
                headers = {SECRET_HEADER: SECRET, "Content-Type": "application/json"}
                if canary:
                    headers[ROLE_HEADER] = "canary"
                response = await h.client.post(h.url, content=json.dumps(update), headers=headers)
                return response.status_code

            on_canary = fake.user_message(CHAT, "/start", enqueue=False)
            assert await post(on_canary, canary=True) == 500
            assert await post(on_canary, canary=True) == 500  # the same bug every time it comes back
            assert fake.sent(CHAT) == []  # no apology from the canary
            # a release waits on /failures: answered at once when there are more than it saw
            assert (await h.client.get(h.base("/failures?seen=-1"))).text.strip() == "failed 2"
            waiting = asyncio.ensure_future(h.client.get(h.base("/failures?seen=2&wait=20")))
            await asyncio.sleep(0.2)
            assert not waiting.done()  # held open: nothing new yet
            assert await post(fake.user_message(CHAT, "/start", enqueue=False), canary=True) == 500
            assert (await asyncio.wait_for(waiting, 10)).text.strip() == "failed 3"
            # outside a release (no role): as before, the learner is told and the update is done
            elsewhere = fake.user_message(CHAT + 1, "/start", enqueue=False)
            assert await post(elsewhere, canary=False) == 200
            assert "Something went wrong on my side" in fake.sent(CHAT + 1)[-1].text
            # the rollback: the old color (no bug) gets the redelivery and applies it once
            broken["yes"] = False
            assert await post(on_canary, canary=False) == 200
            assert await post(on_canary, canary=False) == 200
            assert [m.text for m in fake.sent(CHAT)][:1] and len(fake.sent(CHAT)) == 1
            assert "Welcome" in fake.sent(CHAT)[0].text

    asyncio.run(scenario())


def test_shutdown_answers_a_held_failures_request_at_once(published: Path, fake: FakeBotApi) -> None:
    """A release holds /failures open on each replica; stopping the replica must not wait for it."""
    tutor, _ = make_tutor(published)

    async def scenario() -> None:
        h = InProcess(tutor, fake)
        await h.server.start()
        held = asyncio.ensure_future(h.client.get(h.base("/failures?seen=0&wait=30")))
        await asyncio.sleep(0.2)
        assert not held.done()
        await asyncio.wait_for(h.server.stop(), 10)  # no TimeoutError from the connections' close
        response = await asyncio.wait_for(held, 5)
        assert response.text.strip() == "failed 0"
        await h.client.aclose()

    asyncio.run(scenario())


def test_shutdown_lets_an_update_in_flight_finish(published: Path, fake: FakeBotApi) -> None:
    tutor, _ = make_tutor(published)
    entered = asyncio.Event()

    async def slow(update: object, context: object) -> None:
        entered.set()
        await asyncio.sleep(0.5)

    async def scenario() -> None:
        h = InProcess(tutor, fake)
        await h.server.start()
        h.application.add_handler(MessageHandler(filters.ALL, slow), group=1)
        start = fake.user_message(CHAT, "/start", enqueue=False)
        delivery = asyncio.create_task(apost_update(h.url, start, SECRET))
        await asyncio.wait_for(entered.wait(), 5)
        await h.server.stop()  # as on SIGTERM: stop listening, drain, then stop the application
        assert await delivery == 200
        assert len(fake.sent(CHAT)) == 1
        await h.client.aclose()
        with pytest.raises(httpx.ConnectError):
            await apost_update(h.url, start, SECRET)

    asyncio.run(scenario())


def test_readyz_names_the_schema_revision_the_store_was_opened_at(
    published: Path, fake: FakeBotApi, tmp_path: Path
) -> None:
    from fiml_bot.storage import migrations_api, open_storage

    _, content = make_tutor(published)
    url = f"sqlite:///{tmp_path / 'progress.db'}"
    migrations_api.upgrade(url)
    storage = open_storage(url)
    head = migrations_api.current(url)
    assert head and storage.schema_revision() == head

    async def scenario() -> None:
        async with InProcess(Tutor(content, storage), fake) as h:
            ready = await h.client.get(h.base("/readyz"))
            assert ready.status_code == 200 and f"schema: {head};" in ready.text

    try:
        asyncio.run(scenario())
    finally:
        storage.close()


def test_readyz_is_503_when_the_database_is_gone(published: Path, fake: FakeBotApi) -> None:
    _, content = make_tutor(published)

    class Gone:
        def __call__(self) -> object:
            raise StorageUnavailable("could not connect to the database")

        def schema_revision(self) -> str | None:
            return None

    tutor = Tutor(content, Gone())  # type: ignore[arg-type]

    async def scenario() -> None:
        async with InProcess(tutor, fake) as h:
            ready = await h.client.get(h.base("/readyz"))
            assert ready.status_code == 503 and "database" in ready.text and "could not connect" in ready.text
            assert (await h.client.get(h.base("/healthz"))).status_code == 200  # the process is up

    asyncio.run(scenario())


def test_a_database_outage_answers_500_so_telegram_redelivers(published: Path, fake: FakeBotApi) -> None:
    tutor, down = tutor_with_outage(published)

    async def scenario() -> None:
        async with InProcess(tutor, fake) as h:
            update = fake.user_message(CHAT, "/start", enqueue=False)
            assert await apost_update(h.url, update, secret_token=SECRET) == 500
            assert "can't reach my records" in fake.messages(CHAT)[-1].text
            down["yes"] = False
            assert await apost_update(h.url, update, secret_token=SECRET) == 200  # Telegram's redelivery
            assert "Welcome" in fake.messages(CHAT)[-1].text

    asyncio.run(scenario())


def test_readyz_is_503_without_lessons(published: Path, fake: FakeBotApi) -> None:
    from fiml_bot.storage import MemoryStorage

    class NoLessons:
        def lesson_ids(self) -> list[str]:
            return []

        def served_ref(self) -> str:
            return "worktree"

    tutor = Tutor(NoLessons(), MemoryStorage())  # type: ignore[arg-type]

    async def scenario() -> None:
        async with InProcess(tutor, fake) as h:
            ready = await h.client.get(h.base("/readyz"))
            assert ready.status_code == 503 and "no lessons" in ready.text

    asyncio.run(scenario())


def test_webhook_settings_are_checked() -> None:
    tutor = object()
    application = object()
    with pytest.raises(WebhookConfigError, match="FIML_WEBHOOK_SECRET"):
        WebhookServer(application, tutor, url="https://bot.example.org/telegram", secret_token="")  # type: ignore[arg-type]
    with pytest.raises(WebhookConfigError, match="unallowed|only hold"):
        WebhookServer(application, tutor, url="https://bot.example.org/telegram", secret_token="no spaces!")  # type: ignore[arg-type]
    with pytest.raises(WebhookConfigError, match="http"):
        WebhookServer(application, tutor, url="ftp://bot.example.org/x", secret_token=SECRET)  # type: ignore[arg-type]


def test_run_refuses_webhook_mode_without_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIML_TELEGRAM_TOKEN", "123:abc")
    for variable in ("FIML_WEBHOOK_SECRET", "FIML_WEBHOOK_URL", "FIML_WEBHOOK_LISTEN", "FIML_WEBHOOK_PORT"):
        monkeypatch.delenv(variable, raising=False)
    result = CliRunner().invoke(
        cli_app, ["run", "--webhook-url", "https://bot.example.org/telegram", "--port", "8443"]
    )
    assert result.exit_code == 2 and "FIML_WEBHOOK_SECRET" in result.output
    result = CliRunner().invoke(cli_app, ["run", "--port", "8443"])
    assert result.exit_code == 2 and "--webhook-url" in result.output
    monkeypatch.setenv("FIML_WEBHOOK_SECRET", "not allowed!")
    result = CliRunner().invoke(cli_app, ["run", "--webhook-url", "https://bot.example.org/telegram"])
    assert result.exit_code == 2 and "A-Z" in result.output


# ---------------------------------------------------------------------------------------------- subprocess


def test_webhook_subprocess(content_repo: Path, tmp_path: Path) -> None:
    fake = FakeBotApi(rate_limits=NO_LIMITS)
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    with FakeBotApiServer(fake) as api:
        command = [
            sys.executable,
            "-m",
            "fiml_bot",
            "run",
            "--webhook-url",
            url,
            "--listen",
            "127.0.0.1",
            "--port",
            str(port),
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
            env=subprocess_env(fake.default_token, FIML_WEBHOOK_SECRET=SECRET),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            with httpx.Client(trust_env=False, timeout=5) as client:
                base = f"http://127.0.0.1:{port}"
                wait_until(lambda: client.get(f"{base}/healthz").status_code == 200, 20, process, "/healthz")
                wait_until(lambda: fake.webhook is not None, 10, process, "setWebhook")
                assert (
                    fake.webhook is not None
                    and fake.webhook.url == url
                    and fake.webhook.secret_token == SECRET
                )
                assert client.get(f"{base}/readyz").status_code == 200

                start = fake.user_message(CHAT, "/start", enqueue=False)
                assert post_update(url, start) == 403
                assert fake.sent(CHAT) == []
                assert post_update(url, start, SECRET) == 200
                sent = fake.sent(CHAT)
                assert sent and "Welcome" in sent[0].text
                assert [c for c in fake.calls_to("sendMessage") if str(c.params.get("chat_id")) == str(CHAT)]
                assert fake.calls_to("setMyCommands")
        finally:
            code, err = stop(process)
    assert code == 0, err
    assert "Traceback" not in err, err
