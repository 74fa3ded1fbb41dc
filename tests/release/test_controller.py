"""The release controller on a simulated clock: phases, the minimum-sample guard, breaches, the
doctor, a failed migration, resuming after a kill. HAProxy is replaced by a recording stand-in here;
test_drill.py runs the real one."""

from __future__ import annotations

from pathlib import Path

import pytest

from fiml_bot.release import config as rollout
from fiml_bot.release.analysis import Counts, Scrape, increase, judge, parse
from fiml_bot.release.controller import Hooks, Release, ReleaseError
from fiml_bot.release.haproxy import Split
from fiml_bot.release.wiring import textfile_exporter
from testing.release.cluster import rollout_yaml

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
        self.alerts: list[tuple[str, str, str]] = []
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
            alert=lambda *a: self.alerts.append(a) or True,
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
    world.add("green", 12, 2)  # fewer than min_samples: wait
    release.tick(state)
    assert state.status == "running"
    world.add("blue", 180, 2)
    world.add("green", 12, 2)  # 16.7% > 5%
    release.tick(state)
    assert state.status == "rolled_back" and world.haproxy.now == Split("blue", "green", 0)
    assert "error rate 16.7% on the new color (4 of 24) over the phase's 5%" in state.reason
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
    world.add("green", 30)
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
    with pytest.raises(ReleaseError):
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
    assert scraped.counts == Counts(13, 1) and scraped.build["version"] == "2.0.0"
    assert increase(Counts(20, 2), Counts(13, 1)) == Counts(7, 1)
    assert increase(Counts(4, 0), Counts(13, 1)) == Counts(4, 0)  # restarted: counts from zero
    assert judge(Counts(10, 5), Counts(100, 0), 5, 20).action == "wait"
    assert judge(Counts(40, 1), Counts(100, 0), 5, 20).action == "healthy"
    assert (
        judge(Counts(40, 4), Counts(100, 20), 5, 20).action == "healthy"
    )  # both failing alike: not the release
    assert judge(Counts(40, 4), Counts(100, 1), 5, 20).action == "breach"


def test_the_migration_hook_snapshots_then_upgrades_and_a_failure_rolls_back(
    tmp_path: Path, postgres_url: str, pg_tools: None, content_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fiml_bot.bootstrap import BotSettings
    from fiml_bot.release.wiring import migrate_with_snapshot
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
