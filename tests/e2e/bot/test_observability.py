"""Metrics and alerts: /metrics on the webhook server and on --metrics-port, counters that move with
real updates, Bot API errors counted, alerts posted as Alertmanager webhooks (version 4) with retries."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from telegram import Update

from fiml_bot.adapters.telegram import build_application
from fiml_bot.ops.alerts import Alert, AlertSender, Deduplicated, WebhookReceiver, payload
from fiml_bot.ops.metrics import BotMetrics
from fiml_bot.tutor.ports import StorageUnavailable
from testing.alert_receiver import AlertReceiver
from testing.bot_process import stop, subprocess_env, wait_until
from testing.fakebotapi import NO_LIMITS, FakeBotApi, FakeBotApiServer, post_update
from testing.tutor_driver import make_tutor
from testing.webhook import SECRET, free_port

CHAT = 7373


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one series in a Prometheus exposition (0 when absent); labels in any order."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


def test_alert_payload_is_alertmanager_version_4() -> None:
    body = payload(
        Alert("FlagFileInvalid", "warning", "bad flags", "flags.json:1:2: oops", {"color": "blue"}), "bot-1"
    )
    assert (
        body["version"] == "4"
        and body["status"] == "firing"
        and body["groupLabels"] == {"alertname": "FlagFileInvalid"}
    )
    (alert,) = body["alerts"]
    assert alert["labels"] == {
        "alertname": "FlagFileInvalid",
        "severity": "warning",
        "service": "fiml-bot",
        "instance": "bot-1",
        "color": "blue",
    }
    assert alert["annotations"] == {"summary": "bad flags", "description": "flags.json:1:2: oops"}
    assert (
        alert["startsAt"].endswith("Z") and alert["endsAt"] == "0001-01-01T00:00:00Z" and alert["fingerprint"]
    )
    assert set(body) >= {
        "receiver",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
        "truncatedAlerts",
        "groupKey",
    }


def test_a_down_receiver_is_retried_with_backoff_and_counted_without_blocking() -> None:
    receiver = AlertReceiver(failures=2)
    metrics, slept = BotMetrics(), []
    sender = AlertSender([WebhookReceiver(receiver.url)], metrics=metrics, source="test", sleep=slept.append)
    try:
        sender.send(Alert("DatabaseUnavailable", "critical", "db down"))
        assert sender.flush(10)
        assert receiver.attempts == 3 and slept == [1.0, 2.0]
        assert receiver.payloads[0]["alerts"][0]["labels"]["alertname"] == "DatabaseUnavailable"
        assert metrics.alerts.labels("webhook", "retried")._value.get() == 2
        assert metrics.alerts.labels("webhook", "sent")._value.get() == 1
    finally:
        receiver.close()

    # A receiver that never answers: send() returns at once, the sender gives up after its attempts.
    gone = AlertSender(
        [WebhookReceiver(f"http://127.0.0.1:{free_port()}/x", timeout=0.5)],
        metrics=metrics,
        sleep=lambda s: None,
        attempts=3,
    )
    for _ in range(5):
        gone.send(Alert("X", "warning", "x"))
    assert gone.flush(30)
    assert metrics.alerts.labels("webhook", "failed")._value.get() == 5


def test_repeated_alerts_are_raised_once_per_window() -> None:
    sent, now = [], [0.0]
    dedup = Deduplicated(sent.append, window=300, clock=lambda: now[0])
    for _ in range(50):
        dedup(Alert("DatabaseUnavailable", "critical", "x"))
    now[0] = 301
    dedup(Alert("DatabaseUnavailable", "critical", "x"))
    assert len(sent) == 2


def test_update_outcomes_and_api_errors_are_counted(git_repo: Path) -> None:
    from testing.cli import cli

    assert cli("tag", "what_is_a_market").exit_code == 0
    fake = FakeBotApi(rate_limits=NO_LIMITS)
    metrics = BotMetrics()
    tutor, _ = make_tutor(git_repo)
    tutor.observer = metrics
    app = build_application(
        tutor, fake.default_token, builder=fake.application_builder(), rate_limit=False, metrics=metrics
    )

    async def scenario() -> None:
        await app.initialize()
        try:

            async def say(text: str) -> None:
                await app.process_update(
                    Update.de_json(fake.user_message(CHAT, text, enqueue=False), app.bot)
                )

            await say("/start")
            await say("/frobnicate")  # not a command the bot knows
            listing = fake.last_sent(CHAT)
            press = fake.callback(
                CHAT,
                listing.message_id,
                next(d for label, d in listing.buttons if "Lessons" in label),
                enqueue=False,
            )
            await app.process_update(Update.de_json(press, app.bot))
            fake.fail_next("sendMessage", times=1, error_code=400)
            await say("/help")  # the reply fails with a 400: the update fails
            original = tutor.unit_of_work

            def down():
                raise StorageUnavailable("database gone")

            tutor.unit_of_work = down  # type: ignore[assignment]
            # the handler raises (so a webhook answers 500); PTB logs it
            await app.process_update(
                Update.de_json(fake.user_message(CHAT, "/progress", enqueue=False), app.bot)
            )
            tutor.unit_of_work = original  # type: ignore[assignment]
        finally:
            await app.shutdown()

    asyncio.run(scenario())
    text = metrics.exposition().decode()
    assert metric(text, "fiml_updates_total", kind="message", outcome="ok") == 1
    assert metric(text, "fiml_updates_total", kind="message", outcome="user_error") == 1
    assert metric(text, "fiml_updates_total", kind="callback_query", outcome="ok") == 1
    assert metric(text, "fiml_updates_total", kind="message", outcome="failed") == 2
    assert metric(text, "fiml_update_duration_seconds_count", kind="message") == 4
    assert metric(text, "fiml_telegram_api_errors_total", method="sendMessage", code="400") == 1
    assert metric(text, "fiml_db_errors_total") == 1


def test_webhook_bot_serves_metrics_that_move_and_alerts_on_a_bad_flag_file(
    content_repo: Path, tmp_path: Path
) -> None:
    """As a new user would: `fiml-bot run --webhook-url ...` on loopback against the fake, `curl /metrics`."""
    fake = FakeBotApi(rate_limits=NO_LIMITS)
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    flags = tmp_path / "flags.json"
    flags.write_text(
        json.dumps(
            {
                "flags": {
                    "review-mistakes": {
                        "state": "ENABLED",
                        "variants": {"on": True, "off": False},
                        "defaultVariant": "off",
                    }
                }
            }
        ),
        encoding="utf-8",
    )
    receiver = AlertReceiver(failures=1)
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
        env = subprocess_env(
            fake.default_token,
            FIML_WEBHOOK_SECRET=SECRET,
            FIML_FLAGS_FILE=str(flags),
            FIML_ALERT_WEBHOOK_URL=receiver.url,
            FIML_COLOR="green",
            FIML_ADMIN_CHAT_ID="999",
        )
        process = subprocess.Popen(
            command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            with httpx.Client(trust_env=False, timeout=5) as client:
                base = f"http://127.0.0.1:{port}"
                wait_until(lambda: client.get(f"{base}/healthz").status_code == 200, 30, process, "/healthz")
                before = client.get(f"{base}/metrics")
                assert before.status_code == 200 and before.headers["content-type"].startswith(
                    "text/plain; version=0.0.4"
                )
                assert metric(before.text, "fiml_updates_total", kind="message", outcome="ok") == 0
                from fiml_bot.storage import migrations_api

                head = re.escape(migrations_api.head())  # the merged branches' newest revision, not a literal
                assert re.search(
                    r'fiml_build_info\{color="green",content_ref="worktree",schema_revision="'
                    + head
                    + r'",version="[^"]+"\} 1.0',
                    before.text,
                ), before.text
                assert post_update(url, fake.user_message(CHAT, "/start", enqueue=False), SECRET) == 200
                assert post_update(url, fake.user_message(CHAT, "/nonsense", enqueue=False), SECRET) == 200
                after = client.get(f"{base}/metrics").text
                assert metric(after, "fiml_updates_total", kind="message", outcome="ok") == 1
                assert metric(after, "fiml_updates_total", kind="message", outcome="user_error") == 1
                assert metric(after, "fiml_update_duration_seconds_count", kind="message") == 2
                assert 0 <= metric(after, "fiml_content_refresh_age_seconds") < 120

                # A broken flag file and SIGHUP: the bot keeps its flags, counts it and alerts (retrying a 503).
                flags.write_text('{"flags": {"review-mistakes": {"state": "ENABLED"}}}', encoding="utf-8")
                process.send_signal(signal.SIGHUP)
                wait_until(lambda: receiver.payloads, 20, process, "the alert")
                alert = receiver.payloads[0]["alerts"][0]
                assert (
                    receiver.payloads[0]["version"] == "4"
                    and alert["labels"]["alertname"] == "FlagFileInvalid"
                )
                assert (
                    f'{flags}:1:12: "variants" is a required property' in alert["annotations"]["description"]
                )
                wait_until(
                    lambda: [m for m in fake.sent(999) if "FlagFileInvalid" in m.text],
                    20,
                    process,
                    "the admin chat message",
                )
                scraped = wait_until(
                    lambda: (
                        (t := client.get(f"{base}/metrics").text)
                        and metric(t, "fiml_alerts_total", receiver="telegram", outcome="sent")
                        and t
                    ),
                    10,
                    process,
                    "the alerts counted",
                )
                assert metric(scraped, "fiml_flags_reloads_total", outcome="invalid") == 1
                assert metric(scraped, "fiml_alerts_total", receiver="webhook", outcome="retried") == 1
                assert metric(scraped, "fiml_alerts_total", receiver="webhook", outcome="sent") == 1
                assert metric(scraped, "fiml_alerts_total", receiver="telegram", outcome="sent") == 1
                assert (
                    post_update(url, fake.user_message(CHAT, "/help", enqueue=False), SECRET) == 200
                )  # still serving
        finally:
            code, err = stop(process)
            receiver.close()
    assert code == 0, err
    assert "Traceback" not in err, err


def test_polling_bot_serves_metrics_on_its_metrics_port(content_repo: Path, tmp_path: Path) -> None:
    fake = FakeBotApi(rate_limits=NO_LIMITS, max_poll_wait=2)
    port = free_port()
    with FakeBotApiServer(fake) as api:
        command = [
            sys.executable,
            "-m",
            "fiml_bot",
            "run",
            "--api-base-url",
            api.base_url,
            "--metrics-port",
            str(port),
            "--database",
            f"sqlite:///{tmp_path / 'var' / 'bot.db'}",
            "--content",
            str(content_repo),
            "--preview",
        ]
        process = subprocess.Popen(
            command,
            env=subprocess_env(fake.default_token, FIML_METRICS_LISTEN="127.0.0.1"),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            with httpx.Client(trust_env=False, timeout=5) as client:
                wait_until(lambda: fake.calls_to("getUpdates"), 30, process, "the first getUpdates")
                fake.user_message(CHAT, "/start")
                wait_until(lambda: fake.sent(CHAT), 20, process, "the reply")
                text = wait_until(
                    lambda: (
                        (t := client.get(f"http://127.0.0.1:{port}/metrics").text)
                        and metric(t, "fiml_updates_total", kind="message", outcome="ok") == 1
                        and t
                    ),
                    10,
                    process,
                    "the counter",
                )
                assert "fiml_build_info{" in text
        finally:
            code, err = stop(process)
    assert code == 0, err
