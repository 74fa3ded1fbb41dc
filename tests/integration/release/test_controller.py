"""The release controller on a simulated clock: phases, the minimum-sample guard, breaches, the
doctor, a failed migration, resuming after a kill. HAProxy is replaced by a recording stand-in here;
test_drill.py runs the real one."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema_rs
import pytest

from fiml_bot.release import config as rollout
from fiml_bot.release.analysis import Counts, Limits, Scrape, increase, judge, parse
from fiml_bot.release.controller import Hooks, Release, ReleaseError, ReleaseRefused
from fiml_bot.release.haproxy import Split
from fiml_bot.release.wiring import textfile_exporter
from fiml_cms.errors import UsageError
from testing.release.cluster import rollout_yaml
from testing.repo import PROJECT

PHASES = """
      - traffic_split: 10%
        duration: 10s
        rollback_on_error_rate: 5%
      - traffic_split: 50%
        duration: 10s
        rollback_on_error_rate: 3%
      - traffic_split: 100%
        duration: permanent"""


class FakeHaproxy:
    def __init__(self) -> None:
        self.now = Split("blue", "green", 0)
        self.history: list[Split] = []

    def set_split(self, split: Split) -> Split:
        self.now = split
        self.history.append(split)
        return split

    def split(self) -> Split:
        return self.now


class World:
    """Replicas whose counters the test moves; a clock the test advances."""

    def __init__(self, tmp_path: Path) -> None:
        path = tmp_path / "rollout.yaml"
        path.write_text(
            rollout_yaml(
                [8101, 8102], [8201, 8202], 8443, interval="2s", min_samples=20, phases=PHASES, integrity="4s"
            )
        )
        self.config = rollout.load(path)
        self.time = 1000.0
        self.counters: dict[str, Counts] = {f"127.0.0.1:{p}": Counts() for p in (8101, 8102, 8201, 8202)}
        self.down: set[str] = set()
        self.alerts: list[tuple[str, str, str, bool]] = []  # (name, severity, summary, resolved)
        self.doctor_problem: str | None = None
        self.haproxy = FakeHaproxy()
        self.lines: list[str] = []

    def add(self, color: str, total: int, failed: int = 0) -> None:
        ports = (8101, 8102) if color == "blue" else (8201, 8202)
        for port in ports:
            address = f"127.0.0.1:{port}"
            self.counters[address] = self.counters[address] + Counts(total / 2, failed / 2)

    def scrape(self, address: str) -> Scrape | None:
        if address in self.down:
            return None
        return Scrape(
            self.counters[address], {"version": "2.0.0" if address.endswith(("8201", "8202")) else "1.0.0"}
        )

    def release(self, migrate=None) -> Release:  # type: ignore[no-untyped-def]
        hooks = Hooks(
            doctor=lambda: self.doctor_problem,
            migrate=migrate,
            alert=lambda *a, resolved=False: self.alerts.append((*a, resolved)) or True,
            ready=lambda address: "down" if address in self.down else None,
            scrape=self.scrape,
            metrics=textfile_exporter(self.config.metrics_file),
        )
        return Release(
            self.config,
            self.haproxy,
            hooks,
            clock=lambda: self.time,
            sleep=self.advance,
            out=self.lines.append,
        )  # type: ignore[arg-type]

    def advance(self, seconds: float) -> None:
        self.time += seconds


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def test_a_breach_of_the_canary_rolls_back_with_an_alert_the_state_and_a_metric(world: World) -> None:
    release = world.release()
    state = release.start("2.0.0", follow=False)
    assert world.haproxy.now == Split("blue", "green", 10) and state.phase == 0
    world.add("blue", 180, 2)
    world.add("green", 12, 2)  # 1 in 6 failed: over 5%, but not certainly so (99%)
    release.tick(state)
    assert state.status == "running" and state.log[-1]["detail"].startswith("wait: ")
    world.add("green", 2, 2)  # 4 of 14: certain, long before min_samples (20)
    release.tick(state)
    assert state.status == "rolled_back" and world.haproxy.now == Split("blue", "green", 0)
    assert "error rate 28.6% on the new color (4 of 14; 99% sure it is above" in state.reason
    assert "over the phase's 5%" in state.reason
    assert world.alerts and world.alerts[0][:2] == ("ReleaseRolledBack", "critical")
    metrics = world.config.metrics_file.read_text()
    assert 'fiml_release_status{release="2.0.0",status="rolled_back"} 1.0' in metrics
    assert 'fiml_release_traffic_percent{color="green"} 0.0' in metrics
    assert [entry["step"] for entry in state.log][:2] == ["start", "phase"]
    saved = release.state()
    assert saved.status == "rolled_back" and saved.reason == state.reason


def test_too_few_updates_means_wait_never_promote(world: World) -> None:
    release = world.release()
    state = release.start("2.0.0", follow=False)
    release.tick(state)
    for _ in range(20):  # far past the phase's 10 s, but only 10 updates on green
        world.advance(2)
        world.add("green", 0.5)
        world.add("blue", 5)
        release.tick(state)
    assert state.status == "running" and state.phase == 0 and world.haproxy.now.canary_percent == 10
    assert "fewer than min_samples 20" in state.log[-1]["detail"]


def test_healthy_phases_advance_after_their_duration_then_promote(world: World) -> None:
    release = world.release()
    state = release.start("2.0.0", follow=False)
    release.tick(state)
    while state.status == "running":
        world.advance(2)
        world.add("green", 10, 0)
        world.add("blue", 10, 1)  # the stable color failing more is no reason to stop
        release.tick(state)
        assert world.time < 1100, state.log[-3:]
    assert state.status == "promoted"
    assert [s.canary_percent for s in world.haproxy.history if s.stable == "blue"][:1] == [10]
    assert Split("blue", "green", 50) in world.haproxy.history
    assert world.haproxy.now == Split("green", "blue", 0)
    assert world.alerts[-1][0] == "ReleasePromoted"
    # the next release goes to blue
    assert release.state().stable == "green" and release.state().canary == "blue"


def test_a_failing_doctor_rolls_back(world: World) -> None:
    release = world.release()
    state = release.start("2.0.0", follow=False)
    world.advance(5)
    world.doctor_problem = "1 problem: xp totals differ from the ledger"
    release.tick(state)
    assert state.status == "rolled_back" and "fiml-bot doctor found problems" in state.reason


def test_no_ready_canary_rolls_back(tmp_path: Path) -> None:
    world = World(tmp_path)
    release = world.release()
    state = release.start("2.0.0", follow=False)
    world.down = {"127.0.0.1:8201", "127.0.0.1:8202"}
    release.tick(state)
    assert state.status == "rolled_back" and "no replica of green is ready" in state.reason


def test_a_failed_migration_rolls_back_before_any_learner_moves(world: World) -> None:
    def migrate() -> tuple[str, str]:
        raise RuntimeError("relation already exists")

    state = world.release(migrate=migrate).start("2.0.0", migrate=True)
    assert (
        state.status == "rolled_back" and state.reason == "database migration failed: relation already exists"
    )
    assert all(split.canary_percent == 0 for split in world.haproxy.history)
    assert world.alerts[0][0] == "ReleaseRolledBack"


def test_a_killed_release_resumes_where_it_stopped(world: World) -> None:
    state = world.release().start("2.0.0", follow=False)
    world.release().tick(state)
    world.advance(12)
    world.add("green", 100)  # 0 of 100 failed: certainly under 5%
    world.release().tick(state)
    assert state.phase == 1
    world.haproxy.now = Split("blue", "green", 0)  # e.g. HAProxy restarted from an old map meanwhile
    resumed = world.release().start("2.0.0", follow=False)
    assert resumed.phase == 1 and resumed.log[-1]["step"] == "resume"
    assert world.haproxy.now == Split("blue", "green", 50)
    with pytest.raises(ReleaseError, match="release 2.0.0 is running on green"):
        world.release().start("3.0.0", follow=False)


def test_start_refuses_a_color_that_does_not_run_the_version_or_is_down(world: World) -> None:
    with pytest.raises(ReleaseError, match="127.0.0.1:8201 runs version 2.0.0, not 2.0.1"):
        world.release().start("2.0.1", follow=False)
    world.down = {"127.0.0.1:8202"}
    with pytest.raises(ReleaseError, match="127.0.0.1:8202 is not ready: down"):
        world.release().start("2.0.0", follow=False)
    assert world.haproxy.history == []


def test_manual_steps_are_idempotent(world: World) -> None:
    release = world.release()
    assert release.manual_rollback("by hand").log[-1]["detail"].startswith("nothing to roll back")
    release.switch("green", 30)
    assert world.haproxy.now == Split("blue", "green", 30)
    release.switch("blue", 100)
    assert world.haproxy.now == Split("blue", "green", 0)
    with pytest.raises(UsageError):
        release.switch("red", 10)
    state = release.start("2.0.0", follow=False)
    release.manual_promote()
    assert world.haproxy.now == Split("green", "blue", 0)
    assert release.manual_promote().log[-1]["detail"].endswith("is already promoted (green is stable)")
    assert state.release == "2.0.0"


def test_analysis_reads_the_exposition_and_survives_restarts() -> None:
    text = """# HELP fiml_updates_total Telegram updates handled.
# TYPE fiml_updates_total counter
fiml_updates_total{kind="message",outcome="ok"} 7.0
fiml_updates_total{kind="callback_query",outcome="ok"} 2.0
fiml_updates_total{kind="message",outcome="failed"} 1.0
fiml_updates_total{kind="message",outcome="user_error"} 3.0
# HELP fiml_build_info The running bot.
# TYPE fiml_build_info gauge
fiml_build_info{color="green",version="2.0.0",schema_revision="0002",content_ref="abc"} 1.0
"""
    scraped = parse(text)
    assert (scraped.counts.total, scraped.counts.failed) == (13, 1) and scraped.build["version"] == "2.0.0"
    assert increase(Counts(20, 2), Counts(13, 1)) == Counts(7, 1)
    assert increase(Counts(4, 0), Counts(13, 1)) == Counts(4, 0)  # restarted: counts from zero
    limits = Limits(error_rate=5, min_samples=20)
    assert judge(Counts(10, 0), Counts(100, 0), limits).action == "wait"  # too few to promote
    assert judge(Counts(10, 5), Counts(100, 0), limits).action == "breach"  # but certain to roll back
    assert judge(Counts(200, 1), Counts(100, 0), limits).action == "healthy"
    assert judge(Counts(40, 1), Counts(100, 0), limits).action == "wait"  # under 5%? not sure yet
    # both failing alike: not the release
    assert judge(Counts(40, 4), Counts(100, 20), limits).action != "breach"
    assert judge(Counts(40, 8), Counts(100, 1), limits).action == "breach"


def test_the_migration_hook_snapshots_then_upgrades_and_a_failure_rolls_back(
    tmp_path: Path, postgres_url: str, pg_tools: None, content_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fiml_bot.bootstrap import BotSettings
    from fiml_bot.services.releases import migrate_with_snapshot
    from fiml_bot.storage import migrations_api

    monkeypatch.setenv("FIML_SNAPSHOT_DIR", str(tmp_path / "snapshots"))
    migrations_api.upgrade(postgres_url, "0001")
    settings = BotSettings.from_env(content=content_repo, database_url=postgres_url)
    before, snapshot = migrate_with_snapshot(settings)
    assert before == "0001" and snapshot is not None and Path(snapshot).exists()
    assert migrations_api.current(postgres_url) == migrations_api.head()
    assert migrate_with_snapshot(settings) == (migrations_api.head(), None)  # nothing to do: no snapshot

    from testing.release.load import query

    query(
        postgres_url, "UPDATE alembic_version SET version_num = '9999'"
    )  # a revision this code does not know
    world = World(tmp_path)
    state = world.release(migrate=lambda: migrate_with_snapshot(settings)).start("2.0.0", migrate=True)
    assert state.status == "rolled_back" and state.reason.startswith("database migration failed:")
    assert world.haproxy.history == [Split("blue", "green", 0)]


def test_a_rollback_by_hand_stops_the_running_release_process(world: World) -> None:
    running = world.release()
    state = running.start("2.0.0", follow=False)
    world.release().manual_rollback("trying the runbook")  # another terminal
    assert world.haproxy.now == Split("blue", "green", 0)
    world.add("green", 50)
    world.advance(2)
    running.tick(state)
    assert state.status == "rolled_back" and world.haproxy.now == Split("blue", "green", 0)
    assert "is rolled_back (by hand); this process stops" in world.lines[-1]
    world.release().switch("green", 30)
    assert running.state().status == "rolled_back"


def test_certain_evidence_rolls_back_within_one_evaluation_long_before_min_samples(world: World) -> None:
    """0.5 updates/s on the new color, every one failing: the second failure is certain (99%) evidence
    of more than 5%, and the rollback comes at the next look (every 0.5 s), not at min_samples (20)."""
    release = world.release()
    state = release.start("2.0.0", follow=False)
    failures: list[float] = []

    def sleep(seconds: float) -> None:
        before = world.time
        world.advance(seconds)
        if int(world.time / 2) > int(before / 2):  # one update every 2 s, failing
            world.add("green", 1, 1)
            failures.append(world.time)

    release.sleep = sleep
    release.follow(state)
    rollback_at = next(e["at"] for e in state.log if e["step"] == "rollback")
    assert state.status == "rolled_back" and len(failures) == 2, (failures, state.log[-4:])
    assert rollback_at - failures[-1] <= 1.0
    assert "(2 of 2; 99% sure" in state.reason


def test_a_healthy_canary_is_never_rolled_back_while_it_waits_for_samples(world: World) -> None:
    release = world.release()
    state = release.start("2.0.0", follow=False)
    for _ in range(30):
        world.advance(0.5)
        world.add("green", 1, 0)
        world.add("blue", 10, 0)
        release.tick(state)
    assert state.status == "running"


def test_a_phase_holds_while_the_new_color_has_a_replica_down_and_says_why(world: World) -> None:
    release = world.release()
    state = release.start("2.0.0", follow=False)
    world.down = {"127.0.0.1:8202"}
    for _ in range(20):  # past the phase's 10 s with plenty of healthy updates
        world.advance(1)
        world.add("green", 20)
        release.tick(state)
    assert state.status == "running" and state.phase == 0 and world.haproxy.now.canary_percent == 10
    assert state.hold.startswith("1 of 2 green replica(s) ready, 2 needed to advance (127.0.0.1:8202: down)")
    assert [a[:2] for a in world.alerts] == [("ReleaseHeld", "warning")]
    assert "held: 1 of 2 green replica(s) ready" in state.log[-1]["detail"]
    assert "fiml_release_held 1.0" in world.config.metrics_file.read_text()
    with pytest.raises(ReleaseRefused, match="not promoting release 2.0.0: 1 of 2 green replica"):
        world.release().manual_promote()
    assert world.haproxy.now.canary_percent == 10
    world.down = set()
    world.advance(1)
    release.tick(state)
    assert state.hold == "" and state.phase == 1 and world.haproxy.now.canary_percent == 50
    assert any(e["detail"].startswith("cleared") for e in state.log)
    held, cleared = world.alerts[0], world.alerts[-1]  # the alert that fired is resolved when it clears
    assert (cleared[0], cleared[3], held[3]) == ("ReleaseHeld", True, False)


def test_the_cutover_waits_for_the_gate_too(world: World) -> None:
    release = world.release()
    state = release.start("2.0.0", follow=False)
    for _ in range(40):
        world.advance(1)
        world.add("green", 20)
        world.down = {"127.0.0.1:8201"} if state.phase == 1 else set()
        release.tick(state)
    assert state.status == "running" and state.phase == 1 and "1 of 2 green" in state.hold
    assert all(split.stable == "blue" for split in world.haproxy.history)


def test_pause_holds_indefinitely_resume_continues_and_a_breach_still_rolls_back(world: World) -> None:
    release = world.release()
    state = release.start("2.0.0", follow=False)
    world.release().pause(True)
    for _ in range(60):
        world.advance(1)
        world.add("green", 20)
        release.tick(state)
    assert state.status == "running" and state.paused and state.phase == 0
    assert "held: paused by hand" in state.log[-1]["detail"]
    world.release().pause(False)
    world.advance(1)
    release.tick(state)
    assert state.phase == 1 and not state.paused
    world.release().pause(True)
    world.add("green", 3, 3)
    world.advance(1)
    release.tick(state)
    assert state.status == "rolled_back" and not state.paused
    with pytest.raises(ReleaseRefused, match="no release is running"):
        world.release().pause(False)


def test_abort_is_the_rollback_with_a_reason(world: World) -> None:
    with pytest.raises(ReleaseRefused, match="no release is running"):
        world.release().abort("nothing")
    world.release().start("2.0.0", follow=False)
    state = world.release().abort("wrong prices in lesson 3")
    assert state.status == "rolled_back" and state.reason == "aborted: wrong prices in lesson 3"
    assert world.haproxy.now == Split("blue", "green", 0)
    assert world.alerts[-1][0] == "ReleaseRolledBack"


def test_rollback_after_a_promotion_returns_learners_to_the_previous_color_or_refuses(world: World) -> None:
    world.release().start("2.0.0", follow=False)
    world.release().manual_promote()
    assert world.haproxy.now == Split("green", "blue", 0)
    world.down = {"127.0.0.1:8101"}  # blue's replicas are being stopped after the promotion
    with pytest.raises(ReleaseRefused) as refused:
        world.release().manual_rollback("bad release")
    assert refused.value.exit_code == 1
    assert "cannot return learners to blue" in str(refused.value)
    assert "`fiml-bot release rollback` again" in str(refused.value)
    assert world.haproxy.now == Split("green", "blue", 0)
    assert world.release().state().status == "promoted"
    world.down = set()
    state = world.release().manual_rollback("bad release")
    assert world.haproxy.now == Split("blue", "green", 0)
    assert state.status == "rolled_back" and state.stable == "blue" and state.canary == "green"
    assert "every learner back on blue" in state.log[-2]["detail"]
    # the next release goes to green again
    assert world.release().start("2.0.0", follow=False).canary == "green"


def histogram(durations: dict[float, int]) -> tuple[tuple[float, float], ...]:
    """Cumulative (le, count) buckets of fiml_update_duration_seconds from {duration: updates}."""
    bounds = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, float("inf"))
    return tuple((le, float(sum(n for d, n in durations.items() if d <= le))) for le in bounds)


def test_latency_p99_relative_to_the_stable_color_and_complaints_judge_the_canary() -> None:
    stable = Counts(1000, 0, 1, histogram({0.02: 990, 0.08: 10}))  # p99 within 50-100 ms
    limits = Limits(error_rate=5, min_samples=20, latency_p99=2.0, complaints=3)
    fast = Counts(40, 0, 0, histogram({0.02: 40}))
    assert judge(fast, stable, limits).action == "wait"
    slow = Counts(20, 0, 0, histogram({0.02: 15, 0.8: 5}))  # a quarter take 800 ms
    verdict = judge(slow, stable, limits)
    assert (
        verdict.action == "breach" and "p99 latency" in verdict.reason and "2x the stable" in verdict.reason
    )
    assert judge(slow, stable, Limits(error_rate=5, min_samples=20)).action == "wait"  # not judged
    complained = Counts(30, 0, 3, histogram({0.02: 30}))
    verdict = judge(complained, stable, limits)
    assert verdict.action == "breach" and "3 learner report(s) on the new color" in verdict.reason
    assert judge(Counts(30, 0, 2, fast.buckets), stable, limits).action != "breach"


def test_the_analysis_reads_latency_and_reports_from_the_exposition() -> None:
    text = """# TYPE fiml_update_duration_seconds histogram
fiml_update_duration_seconds_bucket{kind="message",le="0.05"} 3.0
fiml_update_duration_seconds_bucket{kind="message",le="0.5"} 4.0
fiml_update_duration_seconds_bucket{kind="message",le="+Inf"} 4.0
fiml_update_duration_seconds_bucket{kind="callback_query",le="0.05"} 1.0
fiml_update_duration_seconds_bucket{kind="callback_query",le="0.5"} 1.0
fiml_update_duration_seconds_bucket{kind="callback_query",le="+Inf"} 2.0
fiml_update_duration_seconds_count{kind="message"} 4.0
# TYPE fiml_learner_reports_total counter
fiml_learner_reports_total{lesson="what_is_a_market",version="1.0.0"} 2.0
fiml_learner_reports_total{lesson="what_is_a_market",version="1.1.0"} 1.0
"""
    counts = parse(text).counts
    assert counts.buckets == ((0.05, 4.0), (0.5, 5.0), (float("inf"), 6.0)) and counts.reports == 3
    assert Counts.from_dict(counts.as_dict()) == counts
    assert counts.slower_than(0.1) == 1 and counts.slower_than(5.0) is None
    assert increase(counts, Counts(0, 0, 1, ((0.05, 1.0), (0.5, 1.0), (float("inf"), 1.0)))).buckets == (
        (0.05, 3.0),
        (0.5, 4.0),
        (float("inf"), 5.0),
    )


def test_the_rollout_file_accepts_latency_complaints_confidence_and_min_ready(tmp_path: Path) -> None:
    text = rollout_yaml([8101, 8102], [8201, 8202], 8443, phases=PHASES)
    text = text.replace(
        "rollback_on_error_rate: 3%", "rollback_on_error_rate: 3%\n        rollback_on_latency_p99: 1.5x"
    )
    text = text.replace(
        "      - error_rate_threshold: 5%",
        "      - error_rate_threshold: 5%\n      - latency_p99: 3x\n      - user_complaints: 10",
    )
    text = text.replace("    min_samples: 20", "    min_samples: 20\n    confidence: 95%\n    min_ready: 1")
    path = tmp_path / "rollout.yaml"
    path.write_text(text)
    config = rollout.load(path)
    assert [config.latency_limit(p) for p in config.phases] == [3.0, 1.5, 3.0]
    assert config.user_complaints == 10 and config.confidence == 0.95 and config.ready_needed("green") == 1
    path.write_text(
        text.replace("latency_p99: 3x", "latency_p99: fast").replace("confidence: 95%", "confidence: 30%")
    )
    with pytest.raises(rollout.RolloutConfigError) as raised:
        rollout.load(path)
    text = "\n".join(raised.value.problems)
    assert (
        "deployment.rollback.triggers[1].latency_p99: expected a multiple of the stable color's p99" in text
    )
    assert "deployment.rollout.confidence: expected a confidence from 50% to 99.9%" in text


def test_pause_resume_and_status_from_the_command_line(world: World) -> None:
    from typer.testing import CliRunner

    from fiml_bot.cli import app

    release = world.release()
    state = release.start("2.0.0", follow=False)
    world.down = {"127.0.0.1:8202"}
    release.tick(state)
    config = ["--config", str(world.config.path)]
    runner = CliRunner()
    assert runner.invoke(app, ["release", "pause", *config]).exit_code == 0
    status = runner.invoke(app, ["release", "status", *config])
    assert "paused: no phase advances until `fiml-bot release resume`" in status.output
    assert "holding: 1 of 2 green replica(s) ready, 2 needed to advance" in status.output
    as_json = json.loads(runner.invoke(app, ["release", "status", "--json", *config]).stdout)
    schema = PROJECT / "schemas/output/fiml-bot-release-status.schema.json"
    jsonschema_rs.validate(json.loads(schema.read_text(encoding="utf-8")), as_json)  # the --json envelope
    assert as_json["schema"] == "fiml-bot/release-status" and as_json["paused"] is True
    assert runner.invoke(app, ["release", "resume", *config]).exit_code == 0
    assert "paused:" not in runner.invoke(app, ["release", "status", *config]).output
    refused = runner.invoke(app, ["release", "abort", *config])
    assert refused.exit_code == 2 and "--reason" in refused.output
    world.release().abort("by hand")
    result = runner.invoke(app, ["release", "pause", *config])
    assert result.exit_code == 1 and "no release is running (status: rolled_back)" in result.output
    # the table: a refusal of the release's state is 1, a mistaken argument 2 (issue 27)
    promote = runner.invoke(app, ["release", "promote", *config])
    assert promote.exit_code == 1 and "no running release to promote (status: rolled_back)" in promote.output
    switch = runner.invoke(app, ["release", "switch", "red", "10", *config])
    assert switch.exit_code == 2 and "give blue or green" in switch.output


def test_a_phase_with_pause_waits_for_resume_like_argos_pause_step(tmp_path: Path) -> None:
    world = World(tmp_path)  # writes its rollout file: this test's replaces it
    path = world.config.path
    phases = PHASES.replace("rollback_on_error_rate: 3%", "rollback_on_error_rate: 3%\n        pause: true")
    path.write_text(
        rollout_yaml([8101, 8102], [8201, 8202], 8443, interval="2s", min_samples=20, phases=phases)
    )
    world.config = rollout.load(path)
    release = world.release()
    state = release.start("2.0.0", follow=False)
    for _ in range(60):
        world.advance(1)
        world.add("green", 20)
        release.tick(state)
    assert state.status == "running" and state.phase == 1 and state.paused
    assert (
        "then waits for `fiml-bot release resume`"
        in next(e for e in state.log if e["step"] == "phase" and "50%" in e["detail"])["detail"]
    )
    world.release().pause(False)
    world.advance(1)
    release.tick(state)
    assert state.status == "promoted"
    path.write_text(path.read_text().replace("pause: true", "pause: soon"))
    with pytest.raises(rollout.RolloutConfigError, match=r"phases\[1\].pause: expected true or false"):
        rollout.load(path)
