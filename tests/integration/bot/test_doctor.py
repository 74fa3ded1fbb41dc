"""`fiml-bot doctor`: clean on what the tutor writes, and each hand-made corruption found and named."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema_rs
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from fiml_bot.cli import app
from fiml_bot.ops import doctor
from fiml_bot.storage import migrations_api
from fiml_bot.storage.database import make_engine
from fiml_bot.storage.unit_of_work import open_storage
from fiml_bot.tutor.events import Start
from testing.repo import PROJECT
from testing.tutor_driver import Learner, make_tutor

BOTH = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
MARKET = "what_is_a_market"
runner = CliRunner()


def learn(root: Path, url: str) -> None:
    """telegram:1 completes the first lesson with every answer right; telegram:2 is in its second section."""
    with open_storage(url) as storage:
        tutor, _ = make_tutor(root, storage)
        ada = Learner(tutor, "telegram:1")
        ada.send(Start())
        ada.press("Lessons")
        ada.press("What Is a Market?")
        ada.read_to_quiz()
        for _ in range(5):
            ada.answer_current()
        bob = Learner(tutor, "telegram:2")
        bob.send(Start())
        bob.press("Lessons")
        bob.press("What Is a Market?")
        bob.press("Next")


def execute(url: str, *statements: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


def problems(root: Path, url: str) -> list[tuple[str, str | None, str | None]]:
    from fiml_bot.bootstrap import BotSettings, open_content

    report = doctor.run(url, open_content(BotSettings(content=root, database_url=url)))
    return [(p.check, p.learner, p.lesson) for p in report.problems]


@BOTH
def test_clean_then_each_corruption_is_named(published: Path, database_url: str) -> None:
    migrations_api.upgrade(database_url)
    learn(published, database_url)
    assert problems(published, database_url) == []

    execute(
        database_url, "UPDATE lesson_progress SET current_section = 'nowhere' WHERE learner_id = 'telegram:2'"
    )
    assert problems(published, database_url) == [("positions exist", "telegram:2", MARKET)]

    execute(
        database_url, "UPDATE lesson_progress SET pinned_version = '9.9.9' WHERE learner_id = 'telegram:2'"
    )
    assert problems(published, database_url) == [("versions resolvable", "telegram:2", MARKET)]
    execute(
        database_url,
        "UPDATE lesson_progress SET pinned_version = '1.0.0', current_section = NULL WHERE learner_id = 'telegram:2'",
    )

    execute(database_url, "UPDATE completions SET xp_earned = 999")
    assert problems(published, database_url) == [("completions paid", "telegram:1", MARKET)]
    execute(database_url, f"DELETE FROM xp_ledger WHERE key = 'lesson:{MARKET}'")
    assert problems(published, database_url) == [("completions paid", "telegram:1", MARKET)]

    execute(
        database_url,
        "INSERT INTO badges (learner_id, badge, awarded_at) VALUES ('telegram:2', 'five_lessons', '2026-03-02 09:00:00')",
    )
    assert ("badges match the rules", "telegram:2", None) in problems(published, database_url)


@BOTH
def test_a_duplicate_ledger_key_and_orphans_are_found(database_url: str, tmp_path: Path) -> None:
    migrations_api.upgrade(database_url)
    execute(
        database_url,
        "INSERT INTO learners (id, name, time_zone, active, streak_days, freeze_available, created_at, revision) "
        "VALUES ('telegram:1', 'Ada', 'UTC', true, 0, true, '2026-03-02 09:00:00', 1)",
    )
    if database_url.startswith("sqlite"):
        import sqlite3

        raw = sqlite3.connect(
            database_url.removeprefix("sqlite:///")
        )  # foreign keys off, as a hand edit has them
        raw.execute("DROP INDEX IF EXISTS uq_xp_ledger_learner_id_key")
        raw.executescript(
            "CREATE TABLE x AS SELECT * FROM xp_ledger; DROP TABLE xp_ledger; ALTER TABLE x RENAME TO xp_ledger;"
            "INSERT INTO xp_ledger (id, learner_id, amount, reason, key, awarded_at) VALUES (1, 'telegram:1', 10, 'x', 'lesson:a', '2026-03-02'), (2, 'telegram:1', 10, 'x', 'lesson:a', '2026-03-02');"
            "INSERT INTO badges (learner_id, badge, awarded_at) VALUES ('telegram:9', 'first_steps', '2026-03-02');"
        )
        raw.commit()
        raw.close()
    else:
        execute(
            database_url,
            "ALTER TABLE xp_ledger DROP CONSTRAINT uq_xp_ledger_learner_id_key",
            "ALTER TABLE badges DROP CONSTRAINT fk_badges_learner_id_learners",
            "INSERT INTO xp_ledger (learner_id, amount, reason, key, awarded_at) VALUES ('telegram:1', 10, 'x', 'lesson:a', now()), ('telegram:1', 10, 'x', 'lesson:a', now())",
            "INSERT INTO badges (learner_id, badge, awarded_at) VALUES ('telegram:9', 'first_steps', now())",
        )
    found = doctor.run(database_url, None)
    checks = {(p.check, p.learner, p.lesson) for p in found.problems}
    assert ("ledger keys unique", "telegram:1", "a") in checks
    assert ("no orphan rows", "telegram:9", None) in checks
    assert found.skipped and found.exit_code == 1


def test_the_cli_exits_1_naming_the_row_then_0_and_2(published: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    migrations_api.upgrade(url)
    learn(published, url)
    clean = runner.invoke(app, ["doctor", "--database", url, "--content", str(published)])
    assert clean.exit_code == 0, clean.output
    assert "doctor: 2 learner(s), 7 check(s), clean" in clean.output

    execute(url, "UPDATE lesson_progress SET current_section = 'nowhere' WHERE learner_id = 'telegram:2'")
    found = runner.invoke(app, ["doctor", "--database", url, "--content", str(published)])
    assert found.exit_code == 1
    assert (
        f"learner telegram:2 lesson {MARKET}: current section 'nowhere' is not a section of version 1.0.0 [positions exist]"
        in found.output
    )
    as_json = runner.invoke(app, ["doctor", "--json", "--database", url, "--content", str(published)])
    data = json.loads(as_json.output)
    schema = PROJECT / "schemas/output/fiml-bot-doctor.schema.json"
    jsonschema_rs.validate(json.loads(schema.read_text(encoding="utf-8")), data)  # the --json envelope
    assert data["schema"] == "fiml-bot/doctor" and data["version"] == 1
    assert as_json.exit_code == 1 and data["ok"] is False
    assert data["problems"][0]["learner"] == "telegram:2" and data["problems"][0]["hint"]

    missing = runner.invoke(app, ["doctor", "--database", f"sqlite:///{tmp_path / 'none.db'}"])
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_a_yanked_pinned_version_is_known_not_a_problem(published: Path, tmp_path: Path) -> None:
    """A learner pinned to a yanked version restarts on their next visit (§5): nothing to fix."""
    from testing.cli import cli
    from testing.repo import commit_all, replace_in

    url = f"sqlite:///{tmp_path / 'bot.db'}"
    migrations_api.upgrade(url)
    learn(published, url)  # telegram:2 is pinned to 1.0.0 of MARKET, in progress
    assert cli("bump", MARKET, "patch", "-m", "Withdraw 1.0.0", "--date", "2026-12-01").exit_code == 0, (
        "bump failed"
    )
    replace_in(
        published / f"content/lessons/{MARKET}.yaml", "retired: false", 'retired: false\nyanked: ["1.0.0"]'
    )
    commit_all(published, "Withdraw 1.0.0")
    assert cli("tag", MARKET).exit_code == 0
    assert problems(published, url) == []
    execute(url, "UPDATE lesson_progress SET pinned_version = '1.0.7' WHERE learner_id = 'telegram:2'")
    assert problems(published, url) == [("versions resolvable", "telegram:2", MARKET)]


def test_problems_are_posted_as_an_alertmanager_alert(
    published: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from testing.alert_receiver import AlertReceiver

    url = f"sqlite:///{tmp_path / 'bot.db'}"
    migrations_api.upgrade(url)
    learn(published, url)
    receiver = AlertReceiver()
    monkeypatch.setenv("FIML_ALERT_WEBHOOK_URL", receiver.url)
    try:
        clean = runner.invoke(app, ["doctor", "--database", url, "--content", str(published)])
        assert clean.exit_code == 0 and receiver.payloads == []  # nothing to say when clean
        execute(url, "UPDATE lesson_progress SET current_section = 'nowhere' WHERE learner_id = 'telegram:2'")
        found = runner.invoke(app, ["doctor", "--database", url, "--content", str(published)])
    finally:
        receiver.close()
    assert found.exit_code == 1
    [payload] = receiver.payloads
    assert payload["version"] == "4" and payload["status"] == "firing"
    [alert] = payload["alerts"]
    assert alert["labels"]["alertname"] == "DoctorProblems" and alert["labels"]["severity"] == "critical"
    assert (
        "1 integrity problem(s)" in alert["annotations"]["summary"]
        and "telegram:2" in alert["annotations"]["description"]
    )


def test_textfile_feeds_the_doctor_alert_rule(published: Path, tmp_path: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    url = f"sqlite:///{tmp_path / 'bot.db'}"
    migrations_api.upgrade(url)
    learn(published, url)
    execute(url, "UPDATE lesson_progress SET current_section = 'nowhere' WHERE learner_id = 'telegram:2'")
    prom = tmp_path / "doctor.prom"
    found = runner.invoke(
        app, ["doctor", "--textfile", str(prom), "--database", url, "--content", str(published)]
    )
    assert found.exit_code == 1
    samples = {
        s.name: s.value for family in text_string_to_metric_families(prom.read_text()) for s in family.samples
    }
    assert samples["fiml_doctor_problems"] == 1 and samples["fiml_doctor_last_run_timestamp_seconds"] > 0
    nowhere = runner.invoke(
        app,
        [
            "doctor",
            "--textfile",
            str(tmp_path / "no" / "such" / "doctor.prom"),
            "--database",
            url,
            "--content",
            str(published),
        ],
    )
    assert nowhere.exit_code == 2 and "--textfile" in nowhere.output
