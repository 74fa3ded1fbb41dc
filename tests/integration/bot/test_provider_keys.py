"""Learners' own provider keys: /addkey (checked, encrypted, its message deleted), /listkeys, /removekey,
rotation, start-up and doctor checks, and a key that never shows up anywhere it should not."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from telegram import Update
from typer.testing import CliRunner

from fiml_bot.adapters.telegram import build_application
from fiml_bot.cli import app
from fiml_bot.content import LessonContent
from fiml_bot.keys import crypto
from fiml_bot.keys.commands import KeyCommands
from fiml_bot.keys.vault import TABLE, KeyVault
from fiml_bot.keys.wiring import key_commands, open_vault
from fiml_bot.marketdata.service import MarketData
from fiml_bot.ops.metrics import BotMetrics
from fiml_bot.storage import migrations_api
from fiml_bot.storage.unit_of_work import open_storage
from fiml_bot.tutor.engine import Tutor
from fiml_cms.config import load_settings
from testing.fakebotapi import NO_LIMITS, FakeBotApi
from testing.fakeprovider import FakeProvider
from testing.marketdata import add_live_section

CHAT = 6161
KEY = "LEARNERSECRET9876"
runner = CliRunner()


@pytest.fixture
def fake():
    with FakeProvider() as provider:
        provider.accept_keys("OP", KEY)
        yield provider


@pytest.fixture
def url(sqlite_url: str) -> str:
    migrations_api.upgrade(sqlite_url)
    return sqlite_url


class Bot:
    """PTB's real update processing on the fake Bot API, with the SQL store, a provider and the vault."""

    def __init__(self, root: Path, url: str, fake: FakeProvider, env: dict[str, str]) -> None:
        self.fake_api = FakeBotApi(rate_limits=NO_LIMITS)
        self.env = {**env, "FIML_MARKET_DATA_URL": fake.url}
        self.vault = open_vault(self.env, url)
        self.metrics = BotMetrics()
        self.keys: KeyCommands = key_commands(self.env, self.vault, self.metrics.market_data_request)
        self.market = MarketData(
            self.keys.providers["finnhub"],
            "OP",
            count=self.metrics.market_data_request,
            learner_key=self.vault.get,
            key_used=self.vault.used,
        )
        self.storage = open_storage(url)
        content = LessonContent.open(root, load_settings(root), preview=True)
        self.app = build_application(
            Tutor(content, self.storage),
            self.fake_api.default_token,
            builder=self.fake_api.application_builder(),
            rate_limit=False,
            market=self.market,
            keys=self.keys,
        )

    async def __aenter__(self) -> Bot:
        await self.app.initialize()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.app.shutdown()
        for provider in self.keys.providers.values():
            await provider.aclose()
        self.storage.close()

    async def say(self, text: str) -> dict[str, Any]:
        update = self.fake_api.user_message(CHAT, text, enqueue=False)
        await self.app.process_update(Update.de_json(update, self.app.bot))
        return update

    async def tap(self, label: str) -> None:
        message = [m for m in self.fake_api.messages(CHAT) if m.from_bot and m.buttons][-1]
        data = next(d for t, d in message.buttons if label in t)
        update = self.fake_api.callback(CHAT, message.message_id, data, enqueue=False)
        await self.app.process_update(Update.de_json(update, self.app.bot))

    def last(self) -> str:
        return self.fake_api.sent(CHAT)[-1].text


def test_addkey_listkeys_removekey_through_telegram(content_repo: Path, url: str, fake: FakeProvider) -> None:
    add_live_section(content_repo)
    env = {"FIML_KEY_ENCRYPTION_KEYS": crypto.generate()}

    async def scenario() -> None:
        async with Bot(content_repo, url, fake, env) as bot:
            await bot.say("/listkeys")
            assert bot.last().startswith("You have no stored keys.")
            wrong = await bot.say("/addkey finnhub WRONGKEY1111")
            assert wrong["message"]["message_id"] in bot.fake_api.deleted(CHAT)
            assert "did not accept that key" in bot.last()
            added = await bot.say(f"/addkey finnhub {KEY}")
            assert added["message"]["message_id"] in bot.fake_api.deleted(CHAT)  # gone from the chat
            assert bot.last().startswith("🔑 Saved your finnhub key ending in 9876, encrypted.")
            assert [(c.what, c.key) for c in fake.calls] == [("quote", "WRONGKEY1111"), ("quote", KEY)]

            await bot.say("/start")
            await bot.tap("Lessons")
            await bot.tap("What Is a Market?")
            for _ in range(3):
                await bot.tap("Next")
            assert "Price:" in bot.last()
            assert fake.calls[-1].key == KEY  # the learner's own key first

            await bot.say("/listkeys")
            listing = bot.last()
            assert listing.startswith("🔑 Your data-provider keys:\n• finnhub: …9876, added ")
            assert listing.endswith("UTC, 1 call(s) today")

            await bot.say("/removekey finnhub")
            assert bot.last() == "🗑 Deleted your finnhub key."
            await bot.say("/listkeys")
            assert bot.last().startswith("You have no stored keys.")
            assert all(KEY not in m.text for m in bot.fake_api.messages(CHAT))

    asyncio.run(scenario())


def test_without_an_encryption_key_nothing_is_stored_and_the_message_still_goes(
    content_repo: Path, url: str, fake: FakeProvider
) -> None:
    async def scenario() -> None:
        async with Bot(content_repo, url, fake, {}) as bot:
            sent = await bot.say(f"/addkey finnhub {KEY}")
            assert sent["message"]["message_id"] in bot.fake_api.deleted(CHAT)
            assert (
                bot.last()
                == "Sorry, this bot cannot store keys yet: its operator has not set an encryption key."
            )
            assert bot.vault.count() == 0
            assert not fake.calls

    asyncio.run(scenario())


def store(url: str, env: dict[str, str], keys: dict[str, str]) -> KeyVault:
    vault = open_vault(env, url)
    for learner, key in keys.items():
        vault.add(learner, "finnhub", key)
    return vault


def test_rotate_reencrypts_under_the_newest_key_and_resumes(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = crypto.generate(), crypto.generate()
    keys = {f"telegram:{i}": f"KEY{i:04d}" for i in range(5)}
    store(url, {"FIML_KEY_ENCRYPTION_KEYS": old}, keys)
    both = {"FIML_KEY_ENCRYPTION_KEYS": f"{new},{old}"}

    real_rotate = crypto.Cipher.rotate
    calls = {"n": 0}

    def interrupted(self: crypto.Cipher, token: str) -> str | None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_rotate(self, token)

    monkeypatch.setattr(crypto.Cipher, "rotate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        open_vault(both, url).rotate(batch=2)  # the first batch of two committed, then an interruption
    monkeypatch.setattr(crypto.Cipher, "rotate", real_rotate)

    result = runner.invoke(app, ["keys", "rotate", "--database", url, "--batch", "2"], env=both)
    assert result.exit_code == 0, result.output
    assert result.output == "3 key(s) re-encrypted under the newest key, 2 already were\n"
    only_new = open_vault({"FIML_KEY_ENCRYPTION_KEYS": new}, url)
    assert {learner: only_new.get(learner, "finnhub") for learner in keys} == keys
    again = runner.invoke(app, ["keys", "rotate", "--database", url], env=both)
    assert again.output == "0 key(s) re-encrypted under the newest key, 5 already were\n"


def test_keys_at_rest_are_ciphertext(url: str) -> None:
    vault = store(url, {"FIML_KEY_ENCRYPTION_KEYS": crypto.generate()}, {"telegram:1": KEY})
    with vault.engine.connect() as conn:
        row = conn.execute(select(TABLE)).one()
    assert KEY not in str(tuple(row))
    assert row.last4 == "9876"
    assert Path(url.removeprefix("sqlite:///")).read_bytes().find(KEY.encode()) == -1


@pytest.mark.parametrize("setting", ["missing", "wrong", "malformed"])
def test_run_refuses_to_start_when_stored_keys_cannot_be_read(
    content_repo: Path, url: str, setting: str
) -> None:
    store(url, {"FIML_KEY_ENCRYPTION_KEYS": crypto.generate()}, {"telegram:1": KEY})
    env = {"FIML_TELEGRAM_TOKEN": "123:ABCDEFGHIJKLMNOP", "FIML_KEY_ENCRYPTION_KEYS": ""}
    if setting == "wrong":
        env["FIML_KEY_ENCRYPTION_KEYS"] = crypto.generate()
    elif setting == "malformed":
        env["FIML_KEY_ENCRYPTION_KEYS"] = "not-a-key"
    result = runner.invoke(app, ["run", "--content", str(content_repo), "--database", url], env=env)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "FIML_KEY_ENCRYPTION_KEYS" in result.output
    expected = {
        "missing": "1 learner provider key(s) are stored but FIML_KEY_ENCRYPTION_KEYS is not set: set FIML_KEY_ENCRYPTION_KEYS to one or more Fernet keys",
        "wrong": "1 of 1 stored learner provider key(s) cannot be decrypted with FIML_KEY_ENCRYPTION_KEYS: add the encryption key they were stored with",
        "malformed": "FIML_KEY_ENCRYPTION_KEYS: entry 1 of 1 is not a Fernet key",
    }[setting]
    assert expected in " ".join(result.output.split())


class AlertCatcher:
    """A loopback webhook receiver that keeps every body posted to it."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        catcher = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                catcher.bodies.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/alerts"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_key_never_appears_in_logs_metrics_snapshots_exports_doctor_or_alerts(
    content_repo: Path, url: str, fake: FakeProvider, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")  # another test's run may have quieted it
    add_live_section(content_repo)
    encryption = crypto.generate()
    env = {"FIML_KEY_ENCRYPTION_KEYS": encryption}
    seen: list[str] = []

    async def scenario() -> None:
        async with Bot(content_repo, url, fake, env) as bot:
            await bot.say(f"/addkey finnhub {KEY}")
            await bot.say("/start")
            await bot.tap("Lessons")
            await bot.tap("What Is a Market?")
            for _ in range(3):
                await bot.tap("Next")
            fake.set_down()  # an outage's errors and log lines carry no key either
            await bot.say(f"/addkey finnhub {KEY}")
            await bot.say("/listkeys")
            seen.append(bot.metrics.exposition().decode())
            seen.extend(m.text for m in bot.fake_api.messages(CHAT))

    asyncio.run(scenario())
    catcher = AlertCatcher()
    try:
        cli_env = {**env, "FIML_ALERT_WEBHOOK_URL": catcher.url}
        snapshots = tmp_path / "snapshots"
        outputs = [
            runner.invoke(app, ["db", "snapshot", "--database", url, "--out", str(snapshots)], env=cli_env),
            runner.invoke(
                app,
                ["progress", "export", "telegram:6161", str(tmp_path / "p.json"), "--database", url],
                env=cli_env,
            ),
            runner.invoke(
                app,
                ["progress", "export", "--all", str(tmp_path / "all.json"), "--database", url],
                env=cli_env,
            ),
            runner.invoke(app, ["doctor", "--database", url], env=cli_env),
        ]
        assert [r.exit_code for r in outputs] == [0, 0, 0, 0], [r.output for r in outputs]
        assert "stored data-provider keys are not exported" in outputs[1].output
        # The database restored where its encryption key is not known: a problem, not a crash.
        lost = runner.invoke(
            app, ["doctor", "--database", url], env={**cli_env, "FIML_KEY_ENCRYPTION_KEYS": crypto.generate()}
        )
        unset = runner.invoke(
            app, ["doctor", "--database", url, "--json"], env={**cli_env, "FIML_KEY_ENCRYPTION_KEYS": ""}
        )
        outputs += [lost, unset]
        assert lost.exit_code == 1 and unset.exit_code == 1
        assert (
            "1 of 1 stored provider key(s) cannot be decrypted with FIML_KEY_ENCRYPTION_KEYS" in lost.output
        )
        assert "[provider keys decryptable]" in lost.output
        assert "FIML_KEY_ENCRYPTION_KEYS is not set" in json.loads(unset.output)["problems"][0]["message"]
        assert len(catcher.bodies) >= 2  # the two DoctorProblems alerts
        assert any(b"provider keys decryptable" in body for body in catcher.bodies)
    finally:
        catcher.close()

    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    manifests = [p for p in snapshots.iterdir() if p.suffix == ".json"]
    assert manifests and all(json.loads(p.read_text())["row_counts"] for p in manifests)
    for secret in (KEY, encryption):
        for path in files:  # snapshots (databases and manifests), exports, the live database
            assert secret.encode() not in path.read_bytes(), path
        for text in [caplog.text, *seen, *(r.output for r in outputs), *(b.decode() for b in catcher.bodies)]:
            assert secret not in text
    assert "&token=***" in caplog.text  # httpx logs each request URL: the key in it is masked


def test_the_terminal_chat_never_echoes_a_key(content_repo: Path, fake: FakeProvider, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "NO_COLOR": "1",
        "COLUMNS": "200",
        "FIML_KEY_ENCRYPTION_KEYS": crypto.generate(),
        "FIML_MARKET_DATA_URL": fake.url,
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "fiml_bot",
            "chat",
            "--preview",
            "--database",
            f"sqlite:///{tmp_path / 'c.db'}",
        ],
        input=f"/addkey finnhub {KEY}\n/listkeys\n/removekey finnhub\n",
        capture_output=True,
        text=True,
        cwd=content_repo,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "› /addkey finnhub ****9876" in done.stdout
    assert "Saved your finnhub key ending in 9876, encrypted." in done.stdout
    assert "• finnhub: …9876, added " in done.stdout
    assert "Deleted your finnhub key." in done.stdout
    assert KEY not in done.stdout + done.stderr


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_the_vault_on_each_database(database_url: str) -> None:
    import datetime as dt

    migrations_api.upgrade(database_url)
    old, new = crypto.generate(), crypto.generate()
    days = iter(
        [dt.datetime(2026, 12, 6, 23, 0, tzinfo=dt.UTC)] * 3
        + [dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)] * 9
    )
    vault = KeyVault(
        open_vault({}, database_url).engine,
        crypto.cipher_from_env({"FIML_KEY_ENCRYPTION_KEYS": old}),
        lambda: next(days),
    )
    vault.add("telegram:1", "finnhub", KEY)
    vault.used("telegram:1", "finnhub")
    vault.used("telegram:1", "finnhub")  # two calls on the 6th
    vault.used("telegram:1", "finnhub")  # a new UTC day: the count starts again
    [entry] = vault.entries("telegram:1")
    assert (entry.provider, entry.last4, entry.used_today) == ("finnhub", "9876", 1)
    assert entry.added_at == dt.datetime(2026, 12, 6, 23, 0, tzinfo=dt.UTC)
    rotated = open_vault({"FIML_KEY_ENCRYPTION_KEYS": f"{new},{old}"}, database_url).rotate()
    assert (rotated.rotated, rotated.current, rotated.unreadable) == (1, 0, 0)
    assert open_vault({"FIML_KEY_ENCRYPTION_KEYS": new}, database_url).get("telegram:1", "finnhub") == KEY
    assert vault.remove("telegram:1", "finnhub") and not vault.remove("telegram:1", "finnhub")
    assert vault.count() == 0
    vault.engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_a_restore_keeps_keys_added_after_the_snapshot(
    database_url: str, tmp_path: Path, pg_tools: None
) -> None:
    from fiml_bot.ops import restore, snapshots

    migrations_api.upgrade(database_url)
    env = {"FIML_KEY_ENCRYPTION_KEYS": crypto.generate()}
    store(database_url, env, {"telegram:1": "FIRSTKEY1111"})
    manifest = snapshots.take(database_url, folder=tmp_path / "snaps")
    assert b"FIRSTKEY1111" not in manifest.path.read_bytes()  # the snapshot holds ciphertext only
    store(database_url, env, {"telegram:2": KEY})  # added after the snapshot
    report = restore.restore(database_url, manifest.path, folder=tmp_path / "snaps")
    assert report.merged["provider_keys"] == 1
    vault = open_vault(env, database_url)
    assert (vault.get("telegram:1", "finnhub"), vault.get("telegram:2", "finnhub")) == ("FIRSTKEY1111", KEY)
    vault.engine.dispose()


def test_fiml_bot_run_serves_live_data_and_keys_as_a_real_process(
    content_repo: Path, fake: FakeProvider, tmp_path: Path
) -> None:
    """`fiml-bot run` (polling) wired from the environment: provider, operator key, encryption keys."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from testing.fakebotapi import FakeBotApiServer

    add_live_section(content_repo)
    api_fake = FakeBotApi(rate_limits=NO_LIMITS, max_poll_wait=2)
    chat = 7171

    def wait_for(predicate: Any, what: str, process: subprocess.Popen[str]) -> Any:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert process.poll() is None, f"the bot exited while waiting for {what}"
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")

    def screen() -> tuple[int, str] | None:
        sent = api_fake.sent(chat)
        return (sent[-1].message_id, sent[-1].text) if sent else None

    def button_there(label: str) -> bool:
        with_buttons = [m for m in api_fake.messages(chat) if m.from_bot and m.buttons]
        return bool(with_buttons) and any(label in t for t, _ in with_buttons[-1].buttons)

    def last_with_button(label: str) -> tuple[int, str]:
        message = [m for m in api_fake.messages(chat) if m.from_bot and m.buttons][-1]
        return message.message_id, next(d for t, d in message.buttons if label in t)  # type: ignore[misc]

    with FakeBotApiServer(api_fake) as api:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FIML_") and "proxy" not in k.lower()}
        env.update(
            {
                "FIML_TELEGRAM_TOKEN": api_fake.default_token,
                "FIML_MARKET_DATA_PROVIDER": "finnhub",
                "FIML_MARKET_DATA_KEY": "OP",
                "FIML_MARKET_DATA_URL": fake.url,
                "FIML_KEY_ENCRYPTION_KEYS": crypto.generate(),
                "NO_PROXY": "127.0.0.1,localhost",
                "PYTHONUNBUFFERED": "1",
            }
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "fiml_bot", "run", "--api-base-url", api.base_url, "--preview"]
            + ["--database", f"sqlite:///{tmp_path / 'var' / 'bot.db'}", "--content", str(content_repo)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_for(lambda: api_fake.calls_to("getUpdates"), "the first getUpdates", process)
            added = api_fake.user_message(chat, f"/addkey finnhub {KEY}")
            wait_for(lambda: api_fake.sent(chat), "the /addkey reply", process)
            assert added["message"]["message_id"] in api_fake.deleted(chat)
            assert "Saved your finnhub key ending in 9876" in api_fake.sent(chat)[-1].text
            api_fake.user_message(chat, "/start")
            shown: tuple[int, str] | None = None
            for label in ("Lessons", "What Is a Market?", "Next", "Next", "Next"):
                # the screen the last press led to (a new message, or the old one edited), with the button
                wait_for(lambda: screen() != shown and button_there(label), f"a {label!r} button", process)  # noqa: B023
                shown = screen()
                message_id, data = last_with_button(label)
                api_fake.callback(chat, message_id, data)
            wait_for(lambda: "Price:" in api_fake.sent(chat)[-1].text, "the live section", process)
            assert fake.calls[-1].key == KEY  # the learner's own key, from the encrypted table
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                _, err = process.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                _, err = process.communicate()
    assert process.returncode == 0, err
    assert KEY not in err and "Traceback" not in err
