"""deploy/rollout.yaml: the project's file is valid; each bad field gets its own located error."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from fiml_bot.cli import app
from fiml_bot.release.config import RolloutConfigError, load
from testing.repo import PROJECT


def test_the_projects_rollout_file_is_valid() -> None:
    config = load(PROJECT / "deploy" / "rollout.yaml")
    assert [p.traffic_split for p in config.phases] == [10, 50, 100]
    assert [p.rollback_on_error_rate for p in config.phases] == [5, 3, None]
    assert config.phases[0].duration == 3600 and config.phases[-1].duration is None
    assert config.initial_stable() == "blue" and len(config.environments["green"].replicas) == 2
    assert config.haproxy.template == PROJECT / "deploy" / "haproxy.cfg"


BAD = """deployment:
  strategy: blue-green
  environments:
    blue:
      traffic: 100%
      instances: 3
      replicas: ["127.0.0.1:8101", "127.0.0.1:8102"]
    green:
      traffic: 0%
      replicas: ["127.0.0.1:8101", "localhost"]
  rollout:
    analysis_interval: soon
    phases:
      - traffic_split: 10%
        duration: 1h
        rollback_on_error_rate: 105%
      - traffic_split: 5%
        duration: permanent
  healthchecks:
    - endpoint: /health
      interval: 30s
  rollback:
    automatic: yes
    triggers:
      - user_complaints: many
  colour: blue
"""


def test_every_bad_field_is_reported_with_its_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "rollout.yaml"
    path.write_text(BAD)
    with pytest.raises(RolloutConfigError) as raised:
        load(path)
    problems = raised.value.problems
    text = "\n".join(problems)
    expected = [
        (":6:18: deployment.environments.blue.instances: says 3 but 2 replica(s) are listed"),
        (":10:36: deployment.environments.green.replicas[1]: expected host:port"),
        (
            ":12:24: deployment.rollout.analysis_interval: expected a duration like 500ms, 30s, 5m or 2h, got 'soon'"
        ),
        (
            ":16:33: deployment.rollout.phases[0].rollback_on_error_rate: expected a percentage from 0% to 100%"
        ),
        (":17:24: deployment.rollout.phases[1].traffic_split: must be larger than the previous phase's 10%"),
        ("deployment.rollout.phases[1].traffic_split: the last phase must be the cutover"),
        (":23:16: deployment.rollback.automatic: expected true or false, got 'yes'"),
        (
            ":25:26: deployment.rollback.triggers[0].user_complaints: expected a whole number of at least 1, got 'many'"
        ),
        (":26:11: deployment.colour: unknown field 'colour'"),
        ("deployment.environments.green.replicas: 127.0.0.1:8101 is listed for blue too"),
    ]
    for fragment in expected:
        assert fragment in text, f"{fragment!r} not in:\n{text}"
    assert all(line.startswith(f"{path}:") for line in problems)


def test_release_check_exits_1_with_the_problems_and_no_traceback(tmp_path: Path) -> None:
    """Findings in the rollout file are exit 1 (the README's table); an unreadable file is exit 2."""
    path = tmp_path / "rollout.yaml"
    path.write_text("deployment:\n  environments: [blue]\n")
    result = CliRunner().invoke(app, ["release", "check", "--config", str(path)])
    assert result.exit_code == 1
    assert (
        f"{path}:2:17: deployment.environments: expected a mapping of fields (blue, green)" in result.output
    )
    assert result.output.startswith("fiml-bot: error: ")
    assert "Traceback" not in result.output
    result = CliRunner().invoke(app, ["release", "check", "--config", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2 and "cannot read the rollout file" in result.output
    result = CliRunner().invoke(
        app, ["release", "check", "--config", str(PROJECT / "deploy" / "rollout.yaml")]
    )
    assert (
        result.exit_code == 0 and "ok: blue 2 and green 2 replica(s), phases 10%, 50%, 100%" in result.output
    )


def test_an_unknown_field_gets_a_did_you_mean(tmp_path: Path) -> None:
    text = (PROJECT / "deploy" / "rollout.yaml").read_text(encoding="utf-8")
    path = tmp_path / "rollout.yaml"
    path.write_text(text.replace("    min_samples: 50", "    min_sample: 50"), encoding="utf-8")
    result = CliRunner().invoke(app, ["release", "check", "--config", str(path)])
    assert result.exit_code == 1
    assert "unknown field 'min_sample'; did you mean `min_samples`?" in result.output


def test_a_bad_duration_is_one_finding_not_also_a_false_permanent_one(tmp_path: Path) -> None:
    text = (PROJECT / "deploy" / "rollout.yaml").read_text(encoding="utf-8")
    path = tmp_path / "rollout.yaml"
    path.write_text(text.replace("duration: 1h", "duration: 1 hour", 1), encoding="utf-8")
    result = CliRunner().invoke(app, ["release", "check", "--config", str(path)])
    assert result.exit_code == 1
    assert "expected a duration like 500ms, 30s, 5m or 2h or permanent, got '1 hour'" in result.output
    assert "only the last phase may be permanent" not in result.output
    path.write_text(text.replace("duration: 1h", "duration: permanent", 1), encoding="utf-8")
    assert (
        "only the last phase may be permanent"
        in CliRunner().invoke(app, ["release", "check", "--config", str(path)]).output
    )


def test_release_check_names_what_each_phase_is_judged_on() -> None:
    config = load(PROJECT / "deploy" / "rollout.yaml")
    assert [config.latency_limit(p) for p in config.phases] == [3.0, 2.0, 3.0]
    assert config.user_complaints == 10 and config.confidence == 0.99 and config.min_samples == 50
    result = CliRunner().invoke(
        app, ["release", "check", "--config", str(PROJECT / "deploy" / "rollout.yaml")]
    )
    assert result.exit_code == 0, result.output
    assert (
        "rollback (99.0% sure) on: 10%: errors over 5%, p99 over 3x the stable color's, 10 learner reports; "
        "50%: errors over 3%, p99 over 2x the stable color's, 10 learner reports"
    ) in result.output
