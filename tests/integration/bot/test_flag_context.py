"""Flags with context (issue 26): rules on what the bot knows of a learner match; rules on anything else
are refused by `flags check`; `flags explain` shows the context it evaluated with."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fiml_bot.cli import app as bot_app
from fiml_bot.ops.flags import FeatureFlags, FlagFileError, FlagFileProvider, check_text
from fiml_bot.storage import open_storage
from fiml_bot.storage.migrations_api import upgrade
from fiml_bot.tutor.callbacks import encode
from fiml_bot.tutor.events import Event, Pressed, SetTimeZone
from fiml_bot.tutor.features import REVIEW_MISTAKES
from fiml_bot.tutor.messages import Message
from fiml_bot.tutor.model import Learner as LearnerRecord
from fiml_bot.tutor.model import XpAward
from testing.cli import cli
from testing.tutor_driver import Learner, make_tutor

MARKET = "what_is_a_market"


def flag_on_when(rule: dict[str, Any]) -> dict[str, Any]:
    """The review-mistakes flag, on for the learners `rule` matches."""
    flag = {
        "state": "ENABLED",
        "variants": {"on": True, "off": False},
        "defaultVariant": "off",
        "targeting": {"if": [rule, "on", "off"]},
    }
    return {"flags": {REVIEW_MISTAKES: flag}}


def flags_for(data: dict[str, Any]) -> FeatureFlags:
    return FeatureFlags(FlagFileProvider(check_text(json.dumps(data, indent=2), "flags.json")))


def run_bot(*args: str):
    result = CliRunner().invoke(bot_app, list(args), env={"FIML_FLAGS_FILE": "", "FIML_DATABASE_URL": ""})
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def fail_the_quiz(learner: Learner) -> str:
    learner.send(Pressed(encode("o", MARKET)))
    learner.read_to_quiz()
    for _ in range(20):
        learner.answer_current(correct=False)
        if "Try again" in learner.text or "another go" in learner.text or "Lesson complete" in learner.text:
            break
    return learner.text


def test_a_rule_on_the_time_zone_reaches_the_learners_in_that_zone(git_repo: Path) -> None:
    assert cli("tag", MARKET).exit_code == 0
    tutor, _ = make_tutor(git_repo)
    tutor.features = flags_for(flag_on_when({"==": [{"var": "time_zone"}, "Europe/Berlin"]}))
    berlin, elsewhere = Learner(tutor, "telegram:1"), Learner(tutor, "telegram:2")
    berlin.send(SetTimeZone("Europe/Berlin"))
    elsewhere.send(SetTimeZone("America/New_York"))
    assert "Review your mistakes" in fail_the_quiz(berlin)
    assert "Review your mistakes" not in fail_the_quiz(elsewhere)


class GermanLearner(Learner):
    """A learner whose platform says their language is German (as Telegram's `language_code` does)."""

    def send(self, event: Event, key: str | None = None) -> list[Message]:
        self.last = self.tutor.handle(self.id, event, event_key=key, name="Ada", language="de-AT")
        return self.last


def test_a_rule_on_the_language_code_sees_what_the_platform_says(git_repo: Path) -> None:
    assert cli("tag", MARKET).exit_code == 0
    tutor, _ = make_tutor(git_repo)
    tutor.features = flags_for(flag_on_when({"starts_with": [{"var": "language_code"}, "de"]}))
    assert "Review your mistakes" in fail_the_quiz(GermanLearner(tutor, "telegram:3"))
    assert "Review your mistakes" not in fail_the_quiz(Learner(tutor, "telegram:4"))


@pytest.mark.parametrize(
    ("name", "hint"),
    [("time_zon", "did you mean 'time_zone'?"), ("country", "")],
)
def test_flags_check_refuses_a_rule_on_an_attribute_the_bot_does_not_send(
    tmp_path: Path, name: str, hint: str
) -> None:
    path = tmp_path / "flags.json"
    path.write_text(json.dumps(flag_on_when({"==": [{"var": name}, "x"]}), indent=2), encoding="utf-8")
    result = run_bot("flags", "check", "--flags", str(path))
    assert result.exit_code == 1, result.output
    assert f"{path}:" in result.output and f"a rule on {name!r}, which the bot does not send" in result.output
    assert "time_zone, language_code, level, xp, days_active, lessons_completed" in result.output
    assert hint in result.output
    with pytest.raises(FlagFileError):
        check_text(path.read_text(encoding="utf-8"), str(path))


def test_flags_check_accepts_rules_on_every_attribute_the_bot_sends() -> None:
    rule = {
        "and": [
            {"==": [{"var": "time_zone"}, "UTC"]},
            {"starts_with": [{"var": "language_code"}, "en"]},
            {">=": [{"var": "level"}, 2]},
            {">": [{"var": ["xp", 0]}, 100]},
            {"<": [{"var": "days_active"}, 7]},
            {">=": [{"var": "lessons_completed"}, 1]},
            {"!=": [{"var": "targetingKey"}, "telegram:0"]},
            {"!=": [{"var": "$flagd.flagKey"}, ""]},
        ]
    }
    check_text(json.dumps(flag_on_when(rule)), "flags.json")


def test_flags_explain_shows_the_context_and_evaluates_with_it(tmp_path: Path, sqlite_url: str) -> None:
    import datetime as dt

    upgrade(sqlite_url)
    created = dt.datetime.now(dt.UTC) - dt.timedelta(days=3, hours=1)
    with open_storage(sqlite_url) as storage, storage() as uow:
        uow.progress.save_learner(
            LearnerRecord("console:carol", "Carol", time_zone="Europe/Berlin", created_at=created)
        )
        uow.progress.award_xp(XpAward("console:carol", 150, "lesson", "lesson:x", awarded_at=created))
        uow.commit()
    path = tmp_path / "flags.json"
    rule = {"and": [{"==": [{"var": "time_zone"}, "Europe/Berlin"]}, {">=": [{"var": "xp"}, 100]}]}
    path.write_text(json.dumps(flag_on_when(rule)), encoding="utf-8")
    result = run_bot(
        "flags", "explain", REVIEW_MISTAKES, "carol", "--flags", str(path), "--database", sqlite_url
    )
    assert result.exit_code == 0, result.output
    assert "learner: console:carol" in result.output
    assert (
        'context: time_zone="Europe/Berlin", language_code=(unknown), level=2, xp=150, days_active=3, '
        "lessons_completed=0"
    ) in result.output, result.output
    assert "variant: on = true" in result.output
    stranger = run_bot(
        "flags", "explain", REVIEW_MISTAKES, "telegram:9", "--flags", str(path), "--database", sqlite_url
    )
    assert stranger.exit_code == 0 and "variant: off = false" in stranger.output
