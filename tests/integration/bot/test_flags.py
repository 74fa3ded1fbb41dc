"""Feature flags: the flag file's checks, OpenFeature evaluation (sticky, per-flag cohorts, raising only
adds), reload on an interval and SIGHUP keeping the last good flags, `fiml-bot flags check|explain`, and
the "review your mistakes" step they roll out."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fiml_bot.cli import app as bot_app
from fiml_bot.ops.alerts import Alert
from fiml_bot.ops.flag_reload import FlagReloader
from fiml_bot.ops.flags import FeatureFlags, FlagFileError, FlagFileProvider, bucket, check_text, read_file
from fiml_bot.ops.metrics import BotMetrics
from fiml_bot.tutor.callbacks import encode
from fiml_bot.tutor.events import Pressed
from fiml_bot.tutor.features import REVIEW_MISTAKES
from testing.output_schema import conforms
from testing.repo import PROJECT
from testing.tutor_driver import Learner, make_tutor

LEARNERS = [f"telegram:{n}" for n in range(100_000, 104_000)]


def flag_file(percent: int, key: str = REVIEW_MISTAKES, **extra: object) -> dict:
    return {
        "$schema": "https://flagd.dev/schema/v0/flags.json",
        "flags": {
            key: {
                "state": "ENABLED",
                "variants": {"on": True, "off": False},
                "defaultVariant": "off",
                "targeting": {"fractional": [["on", percent], ["off", 100 - percent]]},
                **extra,
            }
        },
    }


def flags_for(data: dict) -> FeatureFlags:
    return FeatureFlags(FlagFileProvider(check_text(json.dumps(data, indent=2), "flags.json")))


def cohort(flags: FeatureFlags, key: str = REVIEW_MISTAKES) -> set[str]:
    return {learner for learner in LEARNERS if flags.enabled(key, learner)}


def test_fractional_shares_are_sticky_grow_by_adding_and_differ_per_flag() -> None:
    at_10, at_25 = cohort(flags_for(flag_file(10))), cohort(flags_for(flag_file(25)))
    assert 0.08 * len(LEARNERS) <= len(at_10) <= 0.12 * len(LEARNERS)
    assert at_10 < at_25  # raising the share only adds learners
    assert cohort(flags_for(flag_file(10))) == at_10  # another instance (restart, replica) agrees
    other = cohort(flags_for(flag_file(10, key="other-feature")), "other-feature")
    overlap = len(at_10 & other) / len(at_10)
    assert overlap < 0.25, overlap  # independent cohorts overlap by about 10 %, not 100 %
    assert cohort(flags_for(flag_file(0))) == set() and cohort(flags_for(flag_file(100))) == set(LEARNERS)


def test_explain_shows_the_bucket_flagd_uses() -> None:
    flags = flags_for(flag_file(30))
    for learner in LEARNERS[:300]:
        explanation = flags.explain(REVIEW_MISTAKES, learner)
        assert explanation.bucket == bucket(REVIEW_MISTAKES, learner)
        assert (
            (explanation.bucket < 30)
            == flags.enabled(REVIEW_MISTAKES, learner)
            == (explanation.value is True)
        )
    assert (
        "fractional: buckets 0-99 by murmur3 of (flag, learner): on 0-29, off 30-99"
        in flags.explain(REVIEW_MISTAKES, LEARNERS[0]).render()
    )


def test_unknown_flags_are_off_and_unknown_variants_are_reported() -> None:
    flags = flags_for(flag_file(50))
    assert flags.enabled("no-such-flag", LEARNERS[0]) is False
    with pytest.raises(FlagFileError) as caught:
        broken = flag_file(50)
        broken["flags"][REVIEW_MISTAKES]["targeting"]["fractional"][0][0] = "yes"
        broken["flags"][REVIEW_MISTAKES]["defaultVariant"] = "maybe"
        check_text(json.dumps(broken, indent=2), "deploy/flags.json")
    problems = caught.value.problems
    assert problems[0].startswith(
        "deploy/flags.json:10:7: flag 'review-mistakes': defaultVariant 'maybe' is not one of its variants"
    )
    assert any(
        p.startswith("deploy/flags.json:13:11: flag 'review-mistakes': fractional names variant 'yes'")
        for p in problems
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"flags": {"a": {"state": "ON", "variants": {"x": 1}}}}', 'flags.json:1:18: "ON" is not one of'),
        (
            '{"flags": {"a": {"state": "ENABLED", "variants": {"x": 1, "y": "z"}}}}',
            "flags.json:1:38: flag 'a': variants mix value types",
        ),
        (
            '{"flags": {"a": {"state": "ENABLED", "variants": {"on": true}, "targeting": {"fractional": [["on", 1.5]]}}}}',
            "a fractional weight is a whole number >= 0, not 1.5",
        ),
        (
            '{"flags": {"a": {"state": "ENABLED", "variants": {"on": true}}, "a": {}}}',
            "flags.json: not valid JSON: duplicate key 'a'",
        ),
        ('{"flags": {"a": }', "flags.json:1:17: not valid JSON: Expecting value"),
        (
            '{"flags": {"canary.x": {"state": "ENABLED", "variants": {"on": true, "off": false}}}}',
            "a content canary needs metadata",
        ),
        ('{"flagz": {}}', 'flags.json:1:1: "flags" is a required property'),
    ],
)
def test_bad_flag_files_name_file_line_and_column(text: str, expected: str) -> None:
    with pytest.raises(Exception) as caught:  # FlagFileError, or ConfigError for JSON that does not parse
        check_text(text, "flags.json")
    assert expected in str(caught.value)


def test_a_canary_flag_must_keep_its_stable_version_older() -> None:
    from fiml_cms.flagfile import Canary, canary_flag

    data = {"flags": {"canary.x": canary_flag(Canary("x", "1.0.0", "1.1.0", 10))}}
    with pytest.raises(FlagFileError, match="the stable version 1.1.0 must be older than the canary 1.0.0"):
        check_text(json.dumps(data), "f.json")


def test_reload_keeps_the_last_good_flags_alerts_once_and_follows_sighup(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    path.write_text(json.dumps(flag_file(0)), encoding="utf-8")
    flags = FeatureFlags(FlagFileProvider(read_file(path)))
    metrics, alerts = BotMetrics(), []
    reloader = FlagReloader(path, flags, interval=3600, metrics=metrics, alert=alerts.append, required=True)
    assert reloader.reload() == "unchanged"
    path.write_text(json.dumps(flag_file(100)), encoding="utf-8")
    assert reloader.reload() == "loaded" and flags.enabled(REVIEW_MISTAKES, LEARNERS[0])
    path.write_text('{"flags": {"review-mistakes": {"state": "ENABLED"}}}', encoding="utf-8")
    assert reloader.reload() == "invalid" and reloader.reload() == "invalid"
    assert flags.enabled(REVIEW_MISTAKES, LEARNERS[0])  # the last good flags stay
    assert [a.name for a in alerts] == ["FlagFileInvalid"]  # one alert per distinct problem
    assert 'flags.json:1:12: "variants" is a required property' in alerts[0].description
    assert metrics.flag_reloads.labels("invalid")._value.get() == 2
    path.unlink()
    assert reloader.reload() == "invalid" and len(alerts) == 2 and "gone" in alerts[1].description

    # The loop: an interval of an hour, so only SIGHUP can make it reload now.
    path.write_text(json.dumps(flag_file(0)), encoding="utf-8")
    previous = signal.getsignal(signal.SIGHUP)
    reloader.start()
    try:
        os.kill(os.getpid(), signal.SIGHUP)
        deadline = time.monotonic() + 10
        while flags.enabled(REVIEW_MISTAKES, LEARNERS[0]) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not flags.enabled(REVIEW_MISTAKES, LEARNERS[0])
    finally:
        reloader.stop()
        signal.signal(signal.SIGHUP, previous)


def test_review_your_mistakes_reaches_exactly_the_learners_the_flag_explains(git_repo: Path) -> None:
    from testing.cli import cli

    assert cli("tag", "what_is_a_market").exit_code == 0
    flags = flags_for(flag_file(50))
    tutor, _content = make_tutor(git_repo)
    tutor.features = flags
    seen = {}
    for learner_id in LEARNERS[:12]:
        learner = Learner(tutor, learner_id)
        learner.send(Pressed(encode("o", "what_is_a_market")))
        learner.read_to_quiz()
        for _ in range(20):
            learner.answer_current(correct=False)
            if (
                "Lesson complete" in learner.text
                or "Try again" in learner.text
                or "another go" in learner.text
            ):
                break
        seen[learner_id] = "Review your mistakes" in learner.text
    assert set(seen.values()) == {True, False}
    for learner_id, reviewed in seen.items():
        explained = flags.explain(REVIEW_MISTAKES, learner_id)
        assert explained.value is reviewed


def run_bot(*args: str, env: dict[str, str] | None = None):
    result = CliRunner().invoke(bot_app, list(args), env={"FIML_FLAGS_FILE": "", **(env or {})})
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def test_flags_check_and_explain_commands(tmp_path: Path) -> None:
    good = tmp_path / "flags.json"
    good.write_text(json.dumps(flag_file(20), indent=2), encoding="utf-8")
    result = run_bot("flags", "check", "--flags", str(good))
    assert result.exit_code == 0
    assert result.output.splitlines()[:2] == [
        f"{good}: 1 flag(s) OK",
        "  review-mistakes: on for 20 % (fractional, sticky per learner)",
    ]

    learner = next(n for n in range(1000) if bucket(REVIEW_MISTAKES, f"telegram:{n}") < 20)
    result = run_bot("flags", "explain", REVIEW_MISTAKES, str(learner), "--flags", str(good))
    assert result.exit_code == 0
    assert f"learner: telegram:{learner}" in result.output
    assert (
        "variant: on = true" in result.output
        and "learner sees: the review-your-mistakes step after each quiz" in result.output
    )
    assert run_bot("flags", "explain", "nope", "1", "--flags", str(good)).exit_code == 2

    bad = tmp_path / "bad.json"
    bad.write_text(
        '{"flags": {"x": {"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "off"}}}',
        encoding="utf-8",
    )
    result = run_bot("flags", "check", "--flags", str(bad))
    assert result.exit_code == 1
    assert f"{bad}:1:64: flag 'x': defaultVariant 'off' is not one of its variants (on)" in result.output
    assert run_bot("flags", "check", "--flags", str(tmp_path / "missing.json")).exit_code == 2
    assert run_bot("flags", "check", env={"FIML_FLAGS_FILE": str(good)}).exit_code == 0


def test_flags_explain_json_matches_its_schema_and_the_text(tmp_path: Path) -> None:
    good = tmp_path / "flags.json"
    good.write_text(json.dumps(flag_file(20), indent=2), encoding="utf-8")
    inside = next(n for n in range(1000) if bucket(REVIEW_MISTAKES, f"telegram:{n}") < 20)
    outside = next(n for n in range(1000) if bucket(REVIEW_MISTAKES, f"telegram:{n}") >= 20)
    for learner, variant in ((inside, "on"), (outside, "off")):
        args = ("flags", "explain", REVIEW_MISTAKES, str(learner), "--flags", str(good))
        result = run_bot(*args, "--json")
        assert result.exit_code == 0, result.output
        document = conforms(result.stdout, "fiml-bot/flags-explain")
        assert document["learner"] == f"telegram:{learner}" and document["variant"] == variant
        assert document["value"] is (variant == "on")
        assert document["bucket"] == bucket(REVIEW_MISTAKES, f"telegram:{learner}")
        assert document["shares"] == [{"variant": "on", "percent": 20}, {"variant": "off", "percent": 80}]
        assert document["canary"] is None and document["served"] in run_bot(*args).stdout
    unknown = run_bot("flags", "explain", "nope", "1", "--flags", str(good), "--json")
    assert unknown.exit_code == 2 and unknown.stdout == ""
    typo = run_bot("flags", "explain", "review-mistake", "1", "--flags", str(good))
    assert typo.exit_code == 2 and "did you mean `review-mistakes`? (known: review-mistakes)" in typo.output


def test_an_unknown_field_in_the_flag_file_gets_a_did_you_mean(tmp_path: Path) -> None:
    data = flag_file(20)
    data["flags"][REVIEW_MISTAKES]["targetting"] = data["flags"][REVIEW_MISTAKES].pop("targeting")
    path = tmp_path / "flags.json"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    result = run_bot("flags", "check", "--flags", str(path))
    assert result.exit_code == 1
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if '"targetting"' in text)
    assert (
        f"{path}:{line}:7: unknown field 'targetting'; did you mean `targeting`? "
        f"[$.flags.{REVIEW_MISTAKES}.targetting]" in result.output
    )


def test_the_projects_flag_file_ships_the_review_step_dark() -> None:
    project = PROJECT / "deploy" / "flags.json"
    flags = FeatureFlags(FlagFileProvider(read_file(project)))
    assert REVIEW_MISTAKES in flags.flags.flags
    assert not any(flags.enabled(REVIEW_MISTAKES, learner) for learner in LEARNERS[:500])


def test_an_alert_is_a_value() -> None:
    assert Alert("X", "warning", "s").all_labels("host")["alertname"] == "X"


def test_run_refuses_to_start_with_an_invalid_flag_file(tmp_path: Path) -> None:
    """Starting without the flags would release every content canary to everyone."""
    bad = tmp_path / "flags.json"
    bad.write_text('{"flags": {"x": {"state": "ENABLED", "variants": {}}}}', encoding="utf-8")
    result = run_bot("run", env={"FIML_TELEGRAM_TOKEN": "1:x", "FIML_FLAGS_FILE": str(bad)})
    assert result.exit_code == 2
    assert f"{bad}:1:38: {{}} has less than 1 property [$.flags.x.variants]" in result.output


def test_the_reload_interval_is_checked() -> None:
    from fiml_bot.ops.runtime import reload_interval
    from fiml_cms.errors import ConfigError

    assert reload_interval("") == 30 and reload_interval("2.5") == 2.5
    for bad in ("soon", "0", "-1"):
        with pytest.raises(ConfigError, match="FIML_FLAGS_RELOAD_SECONDS"):
            reload_interval(bad)


def test_one_sighup_reaches_both_the_flags_and_the_content(tmp_path: Path) -> None:
    """The flag reloader and the content refresher chain their SIGHUP handlers: neither hides the other."""
    import os
    import signal
    import threading

    from fiml_bot.periodic import on_sighup

    heard: list[str] = []
    content, flags = threading.Event(), threading.Event()
    restore_content = on_sighup(lambda: (heard.append("content"), content.set()))
    restore_flags = on_sighup(lambda: (heard.append("flags"), flags.set()))
    try:
        os.kill(os.getpid(), signal.SIGHUP)
        assert content.wait(5) and flags.wait(5)
    finally:
        restore_flags()
        restore_content()
    assert heard == ["flags", "content"]
