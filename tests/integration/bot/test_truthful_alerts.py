"""Alerts tell the truth (issue 24, items 6-7; issue 21, items 13 and 15): a deadline on every delivery,
no retry of a URL that can never work, each alert resolved when its condition clears, and no alarm for a
flag file nobody configured."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fiml_bot.cli import app
from fiml_bot.ops.alerts import NEVER, Alert, AlertConfigError, AlertSender, WebhookReceiver, from_env
from fiml_bot.ops.flag_reload import FlagReloader
from fiml_bot.ops.flags import FeatureFlags, FlagFileProvider, read_file
from fiml_bot.ops.metrics import BotMetrics
from fiml_bot.ops.runtime import AlertingObserver, Operations
from fiml_bot.storage import open_storage
from fiml_bot.tutor.events import ListLessons, Start
from testing.alert_receiver import AlertReceiver
from testing.tutor_driver import Learner, make_tutor

GOOD_FLAGS = {
    "flags": {
        "review-mistakes": {
            "state": "ENABLED",
            "variants": {"on": True, "off": False},
            "defaultVariant": "off",
            "targeting": {"fractional": [["on", 50], ["off", 50]]},
        }
    }
}


def sender_to(receiver: AlertReceiver, metrics: BotMetrics | None = None, **options: float) -> AlertSender:
    return AlertSender([WebhookReceiver(receiver.url)], metrics=metrics, source="test", **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["hang", "trickle"])
def test_a_receiver_that_never_answers_is_given_up_at_the_deadline(mode: str) -> None:
    receiver = AlertReceiver(mode)
    metrics = BotMetrics()
    sender = sender_to(receiver, metrics, deadline=1.5, first_delay=0.2)
    try:
        sender.send(Alert("DatabaseUnavailable", "critical", "db down"))
        # The sender gives up by itself within its deadline: the flush (deadline + 1 s) sees it done.
        assert sender.flush(timeout=2.5)
        assert metrics.alerts.labels("webhook", "failed")._value.get() == 1
        assert metrics.alerts.labels("webhook", "sent")._value.get() == 0
        assert 1 <= receiver.attempts <= 3
    finally:
        receiver.close()


def test_release_alert_on_a_hanging_receiver_fails_within_the_10_s_deadline(
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver = AlertReceiver("hang")
    try:
        with caplog.at_level(logging.ERROR, logger="fiml_bot.alerts"):
            result = CliRunner().invoke(
                app, ["release", "alert", "hello"], env={"FIML_ALERT_WEBHOOK_URL": receiver.url}
            )
        assert result.exit_code == 1, result.output
        assert "not delivered" in result.output
        assert "after 2 attempt(s) in 10 s" in caplog.text  # 5 s + 1 s pause + what was left
    finally:
        receiver.close()


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://hooks.test/a", "hooks.test/alerts"])
def test_an_alert_url_that_is_not_http_is_refused_not_retried(url: str) -> None:
    with pytest.raises(AlertConfigError) as refused:
        from_env({"FIML_ALERT_WEBHOOK_URL": url})
    assert "FIML_ALERT_WEBHOOK_URL" in str(refused.value) and url not in str(refused.value)
    result = CliRunner().invoke(app, ["release", "alert", "hello"], env={"FIML_ALERT_WEBHOOK_URL": url})
    assert result.exit_code == 2 and "FIML_ALERT_WEBHOOK_URL" in result.output
    assert "Traceback" not in result.output


def test_database_unavailable_is_resolved_when_the_database_answers_again(
    tmp_path: Path, git_repo: Path
) -> None:
    receiver = AlertReceiver()
    sender = sender_to(receiver)
    database = tmp_path / "progress.sqlite"
    now = [1000.0]  # the observer's clock: resolving waits for a quiet minute
    try:
        with open_storage(f"sqlite:///{database}", auto_upgrade=True, busy_timeout=0.2) as storage:
            tutor, _ = make_tutor(git_repo, storage)
            tutor.observer = AlertingObserver(BotMetrics(), sender, clock=lambda: now[0])
            learner = Learner(tutor)
            learner.send(Start())
            assert receiver.alerts() == [] and sender.firing() == []

            blocker = sqlite3.connect(database, isolation_level=None)
            blocker.execute("BEGIN EXCLUSIVE")  # the database stops answering
            learner.send(ListLessons())
            assert "records" in learner.text or "try again" in learner.text.lower()
            learner.send(ListLessons())  # the same outage: no second alert
            blocker.execute("ROLLBACK")
            blocker.close()
            assert sender.firing() == ["DatabaseUnavailable", "LearnerActionsFailing"]

            now[0] += 30
            learner.send(ListLessons())  # the database answers, but it failed 30 s ago: not yet
            assert sender.firing() == ["DatabaseUnavailable", "LearnerActionsFailing"]
            now[0] += 30
            learner.send(ListLessons())  # a quiet minute, and an action commits: resolved
            assert sender.flush(10)
            assert sender.firing() == []

            blocker = sqlite3.connect(database, isolation_level=None)
            blocker.execute("BEGIN EXCLUSIVE")  # a new outage alerts at once, not after 5 minutes
            learner.send(ListLessons())
            blocker.execute("ROLLBACK")
            blocker.close()
            assert sender.flush(10)
    finally:
        receiver.close()
    database_alerts = [(s, e) for n, s, e in receiver.alerts() if n == "DatabaseUnavailable"]
    assert [s for s, _ in database_alerts] == ["firing", "resolved", "firing"]
    assert database_alerts[0][1] == NEVER and database_alerts[1][1] != NEVER
    resolved = [p for p in receiver.payloads if p["status"] == "resolved"]
    assert {p["alerts"][0]["labels"]["alertname"] for p in resolved} == {
        "DatabaseUnavailable",
        "LearnerActionsFailing",
    }
    firing = next(p for p in receiver.payloads if p["status"] == "firing")["alerts"][0]
    again = next(p for p in resolved if p["alerts"][0]["labels"] == firing["labels"])["alerts"][0]
    assert again["startsAt"] == firing["startsAt"] and again["fingerprint"] == firing["fingerprint"]
    assert again["endsAt"] >= again["startsAt"]


def test_a_flag_file_syntax_error_on_reload_is_counted_alerted_and_resolved_without_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "flags.json"
    path.write_text(json.dumps(GOOD_FLAGS), encoding="utf-8")
    receiver = AlertReceiver()
    sender, metrics = sender_to(receiver), BotMetrics()
    flags = FeatureFlags(FlagFileProvider(read_file(path)))
    reloader = FlagReloader(path, flags, interval=3600, metrics=metrics, alert=sender, required=True)
    try:
        path.write_text('{"flags": {"review-mistakes": ', encoding="utf-8")
        with caplog.at_level(logging.INFO, logger="fiml_bot.flags"):
            for _ in range(3):
                reloader._reload_safely()  # what the loop calls: it must not need its safety net
        assert "Traceback" not in caplog.text and not any(r.exc_info for r in caplog.records)
        assert f"{path}:1:31: not valid JSON" in caplog.text
        assert metrics.flag_reloads.labels("invalid")._value.get() == 3
        assert flags.flags.flags == GOOD_FLAGS["flags"]  # the last good flags stay

        path.write_text(json.dumps(GOOD_FLAGS, indent=1), encoding="utf-8")
        assert reloader.reload() == "loaded"
        assert sender.flush(10)
    finally:
        receiver.close()
    assert [(n, s) for n, s, _ in receiver.alerts()] == [
        ("FlagFileInvalid", "firing"),
        ("FlagFileInvalid", "resolved"),
    ]
    assert receiver.alerts()[1][2] != NEVER


@pytest.mark.parametrize(
    ("targeting", "expected"),
    [
        ({"iff": [True, "on", "off"]}, "unknown operator 'iff'"),
        (
            {"if": [{"starts_wth": [{"var": "targetingKey"}, "t"]}, "on", "off"]},
            "unknown operator 'starts_wth'",
        ),
        ({"fractional": "x"}, "fractional takes an array"),
        ({"fractional": {"on": 10}}, "fractional takes an array"),
    ],
)
def test_flags_check_and_the_reloader_refuse_operators_flagd_does_not_know(
    tmp_path: Path, targeting: dict, expected: str
) -> None:
    path = tmp_path / "flags.json"
    path.write_text(json.dumps(GOOD_FLAGS, indent=2), encoding="utf-8")
    flags = FeatureFlags(FlagFileProvider(read_file(path)))
    alerts: list[Alert] = []
    reloader = FlagReloader(path, flags, interval=3600, alert=alerts.append)
    bad = json.loads(json.dumps(GOOD_FLAGS))
    bad["flags"]["review-mistakes"]["targeting"] = targeting
    path.write_text(json.dumps(bad, indent=2), encoding="utf-8")
    result = CliRunner().invoke(app, ["flags", "check", "--flags", str(path)])
    assert result.exit_code == 1, result.output
    assert re.search(rf"{re.escape(str(path))}:1\d:\d+: .*{re.escape(expected)}", result.output), (
        result.output
    )
    assert reloader.reload() == "invalid" and expected in alerts[0].description


def test_deeply_nested_rules_are_refused_with_exit_1_not_a_crash(tmp_path: Path) -> None:
    for depth in (40, 500):  # deeper than the checks allow; deeper than Python's JSON parser can go
        rule = '"off"'
        for _ in range(depth):
            rule = '{"if": [true, ' + rule + ', "off"]}'
        path = tmp_path / f"deep{depth}.json"
        path.write_text(
            '{"flags": {"f": {"state": "ENABLED", "variants": {"on": true, "off": false}, "targeting": '
            + rule
            + "}}}",
            encoding="utf-8",
        )
        result = CliRunner().invoke(app, ["flags", "check", "--flags", str(path)])
        assert result.exit_code == 1, result.output[-2000:]
        assert "nested" in result.output and "Traceback" not in result.output


def test_no_flag_file_where_none_was_configured_means_no_flags_not_an_alarm(tmp_path: Path) -> None:
    content = tmp_path / "content"
    (content / "deploy").mkdir(parents=True)
    ops = Operations.from_env(content, {})
    assert ops.reloader is not None and not (content / "deploy" / "flags.json").exists()
    alerts: list[Alert] = []
    ops.reloader.alert = alerts.append
    assert [ops.reloader.reload() for _ in range(3)] == ["unchanged"] * 3
    assert alerts == [] and ops.metrics.flag_reloads.labels("invalid")._value.get() == 0

    # Written later, then removed again: its flags, then none (what git says), never an alarm.
    (content / "deploy" / "flags.json").write_text(json.dumps(GOOD_FLAGS), encoding="utf-8")
    assert ops.reloader.reload() == "loaded" and ops.flags.flags.flags
    (content / "deploy" / "flags.json").unlink()
    assert ops.reloader.reload() == "loaded" and not ops.flags.flags.flags and alerts == []

    # A file the operator named (FIML_FLAGS_FILE) that is missing is a problem.
    named = Operations.from_env(content, {"FIML_FLAGS_FILE": str(tmp_path / "missing.json")})
    assert named.reloader is not None
    named.reloader.alert = alerts.append
    assert named.reloader.reload() == "invalid" and [a.name for a in alerts] == ["FlagFileInvalid"]


def test_doctor_problems_are_resolved_by_the_next_clean_run(
    published: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import text

    from fiml_bot.storage.database import make_engine

    url = f"sqlite:///{tmp_path / 'bot.db'}"
    with open_storage(url, auto_upgrade=True) as storage:
        tutor, _ = make_tutor(published, storage)
        bob = Learner(tutor, "telegram:2")
        bob.send(Start())
        bob.send(ListLessons())
        bob.press("What Is a Market?")

    def set_section(section: str) -> None:
        engine = make_engine(url)
        try:
            with engine.begin() as connection:
                connection.execute(text("UPDATE lesson_progress SET current_section = :s"), {"s": section})
        finally:
            engine.dispose()

    def doctor() -> int:
        result = CliRunner().invoke(app, ["doctor", "--database", url, "--content", str(published)])
        assert "Traceback" not in result.output
        return result.exit_code

    receiver = AlertReceiver()
    monkeypatch.setenv("FIML_ALERT_WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("FIML_ALERT_STATE", str(tmp_path / "state" / "alerts.json"))
    try:
        assert doctor() == 0 and receiver.payloads == []  # clean, nothing fired: nothing to resolve
        set_section("nowhere")
        assert doctor() == 1 and doctor() == 1  # still broken: firing again, from the same start
        set_section("intro")
        assert doctor() == 0  # the condition cleared
        assert doctor() == 0  # and stays clear: resolved once
    finally:
        receiver.close()
    assert [(n, s) for n, s, _ in receiver.alerts()] == [
        ("DoctorProblems", "firing"),
        ("DoctorProblems", "firing"),
        ("DoctorProblems", "resolved"),
    ]
    firing, again, resolved = (p["alerts"][0] for p in receiver.payloads)
    assert firing["startsAt"] == again["startsAt"] == resolved["startsAt"]
    assert firing["fingerprint"] == resolved["fingerprint"] and resolved["endsAt"] != NEVER
    assert url not in (tmp_path / "state" / "alerts.json").read_text()


def test_a_bug_that_fails_every_other_action_fires_once_and_resolves_once_it_stops() -> None:
    from fiml_bot.tutor.observe import FAILED, ActionEvents

    receiver = AlertReceiver()
    sender = sender_to(receiver)
    now = [0.0]
    observer = AlertingObserver(BotMetrics(), sender, clock=lambda: now[0])
    try:
        for _ in range(100):  # 200 actions over 200 s, every other one failing
            observer.action_done(ActionEvents(outcome=FAILED))
            now[0] += 1
            observer.action_done(ActionEvents())
            now[0] += 1
        now[0] += 60
        observer.action_done(ActionEvents())  # the bug is gone for a minute
        assert sender.flush(10)
    finally:
        receiver.close()
    assert [(n, s) for n, s, _ in receiver.alerts()] == [
        ("LearnerActionsFailing", "firing"),
        ("LearnerActionsFailing", "resolved"),
    ]


def test_database_unavailable_is_resolved_by_the_probe_when_no_learner_acts(
    tmp_path: Path, git_repo: Path
) -> None:
    import time

    from fiml_bot.ops.runtime import database_answers

    receiver = AlertReceiver()
    database = tmp_path / "progress.sqlite"
    content = tmp_path / "content"
    (content / "deploy").mkdir(parents=True)
    try:
        with open_storage(f"sqlite:///{database}", auto_upgrade=True, busy_timeout=0.2) as storage:
            tutor, _ = make_tutor(git_repo, storage)
            ops = Operations.from_env(content, {"FIML_ALERT_WEBHOOK_URL": receiver.url}, watch_flags=False)
            assert ops.alerts is not None
            ops.observer = AlertingObserver(ops.metrics, ops.alerts, resolve_after=0.0)
            tutor.observer = ops.observer
            blocker = sqlite3.connect(database, isolation_level=None)
            blocker.execute("BEGIN EXCLUSIVE")
            Learner(tutor).send(Start())  # the outage: the one action there is fails
            assert ops.alerts.firing() == ["DatabaseUnavailable", "LearnerActionsFailing"]
            ops.observer.probe(lambda: database_answers(tutor))  # still locked: still firing
            assert "DatabaseUnavailable" in ops.alerts.firing()
            blocker.execute("ROLLBACK")
            blocker.close()

            ops.watch_database(lambda: database_answers(tutor), interval=0.05)
            ops.start()
            try:
                deadline = time.monotonic() + 20
                while "DatabaseUnavailable" in ops.alerts.firing() and time.monotonic() < deadline:
                    time.sleep(0.05)
            finally:
                ops.stop()
            # The database answers: resolved with nobody acting; a failed action is not the
            # database's to resolve (it may have been a bug): that waits for an action that commits.
            assert ops.alerts.firing() == ["LearnerActionsFailing"]
    finally:
        receiver.close()
    assert ("DatabaseUnavailable", "resolved") in [(n, s) for n, s, _ in receiver.alerts()]
