"""HAProxy in front of real webhook replicas: learners stick to a color; the split changes at run time
through the admin socket with nothing dropped; updates without a user go to the stable color."""

from __future__ import annotations

import collections
import threading
import time
from pathlib import Path

from typer.testing import CliRunner

from fiml_bot.cli import app
from fiml_bot.release.haproxy import Split
from testing.release.cluster import Cluster
from testing.release.load import Load, chatter, processed_keys

LEARNERS = list(range(7001, 7041))


def switch(cluster: Cluster, color: str, percent: int) -> None:
    result = CliRunner().invoke(
        app, ["release", "switch", color, str(percent), "--config", str(cluster.config_path)]
    )
    assert result.exit_code == 0, result.output
    assert f"{color} now serves {percent}% of learners" in result.output


def test_learners_stick_to_a_color_while_the_split_changes_at_run_time(
    tmp_path: Path, content_repo: Path, release_db: str
) -> None:
    with Cluster(tmp_path, content_repo, release_db, replicas=2) as cluster:
        load = Load(cluster.fake, cluster.url)
        try:
            assert cluster.api.split() == Split("blue", "green", 0)
            load.run(LEARNERS, chatter(2))
            assert {d.color for d in load.accepted()} == {"blue"}

            # The switch happens while every learner keeps writing.
            moments: dict[str, float] = {}

            def switch_mid_load() -> None:
                time.sleep(1.0)
                moments["before"] = time.time()
                switch(cluster, "green", 50)
                moments["after"] = time.time()

            switcher = threading.Thread(target=switch_mid_load)
            switcher.start()
            load.run(LEARNERS, chatter(8, pause=0.15), workers=40)
            switcher.join()
            assert cluster.api.split() == Split("blue", "green", 50)

            on_green = {
                learner
                for learner in LEARNERS
                if load.colors_of(learner, after=moments["after"]) == {"green"}
            }
            for learner in LEARNERS:
                # sticky: one color per learner after the switch; everyone on blue before it
                assert len(load.colors_of(learner, after=moments["after"])) == 1, learner
                assert load.colors_of(learner, before=moments["before"]) <= {"blue"}
            assert 6 <= len(on_green) <= 34, f"{len(on_green)} of {len(LEARNERS)} learners on green at 50%"

            # Fewer buckets on green: only learners who were on green stay there (buckets are stable).
            switch(cluster, "green", 10)
            start = time.time()
            load.run(LEARNERS, chatter(1))
            on_green_at_10 = {
                learner for learner in LEARNERS if load.colors_of(learner, after=start) == {"green"}
            }
            assert on_green_at_10 <= on_green and len(on_green_at_10) < len(on_green)

            # An update without a user (a channel post) goes to the stable color.
            post = cluster.fake.add_update(
                {
                    "channel_post": {
                        "message_id": 1,
                        "date": 0,
                        "chat": {"id": -100, "type": "channel"},
                        "text": "hi",
                    }
                },
                enqueue=False,
            )
            switch(cluster, "green", 100)
            assert load.deliver(0, post).color == "blue"

            # Nothing dropped: every delivery was accepted the first time, each update applied once.
            assert all(d.status == 200 for d in load.deliveries), collections.Counter(
                d.status for d in load.deliveries
            )
            keys = processed_keys(release_db)
            user_updates = {d.update_id for d in load.accepted() if d.learner}
            assert len(keys) == len(set(keys))
            assert {f"telegram:{u}" for u in user_updates} <= set(keys)
        finally:
            load.close()


def read_map(cluster: Cluster) -> tuple[tuple[str, str], ...]:
    """The split map's keys as HAProxy holds them right now (whatever they are: no check here)."""
    answer = cluster.api.command(f"show map {cluster.config.haproxy.split_map.resolve()}")
    return tuple(sorted((p[1], p[2]) for line in answer.splitlines() if len(p := line.split()) == 3))


def test_promote_and_rollback_change_the_split_in_one_atomic_step(
    tmp_path: Path, content_repo: Path, release_db: str
) -> None:
    """A reader in a tight loop during promote and rollback sees the old split or the new one, never a
    mix of their keys (which could send the new color's learners back to the old one)."""
    from fiml_bot import __version__

    with Cluster(tmp_path, content_repo, release_db, replicas=1) as cluster:
        invoke = CliRunner().invoke
        config = ["--config", str(cluster.config_path)]
        seen: list[tuple[tuple[str, str], ...]] = []
        stop = threading.Event()

        def reader() -> None:
            deadline = time.monotonic() + 60
            while not stop.is_set() and time.monotonic() < deadline:
                seen.append(read_map(cluster))

        def splits(*pairs: Split) -> set[tuple[tuple[str, str], ...]]:
            return {
                tuple(
                    sorted(
                        {
                            "stable": s.stable,
                            "canary": s.canary,
                            "canary_percent": str(s.canary_percent),
                        }.items()
                    )
                )
                for s in pairs
            }

        from fiml_bot.bot_settings import BotSettings
        from fiml_bot.services.releases import open_release

        settings = BotSettings.from_env(content=content_repo, database_url=release_db)
        release = open_release(cluster.config_path, settings, out=lambda line: None)
        state = release.start(__version__, follow=False)
        release.enter_phase(state, 1)  # 50%: half the learners on green
        assert cluster.api.split() == Split("blue", "green", 50)
        for command, before, after in (
            (["release", "promote"], Split("blue", "green", 50), Split("green", "blue", 0)),
            (
                ["release", "rollback", "--reason", "drill"],
                Split("green", "blue", 0),
                Split("blue", "green", 0),
            ),
        ):
            seen.clear()
            stop.clear()
            watcher = threading.Thread(target=reader)
            watcher.start()
            time.sleep(0.2)
            result = invoke(app, [*command, *config])
            time.sleep(0.2)
            stop.set()
            watcher.join()
            assert result.exit_code == 0, result.output
            assert len(seen) > 50, len(seen)
            assert set(seen) == splits(before, after), set(seen) - splits(before, after)
            assert cluster.api.split() == after
        status = invoke(app, ["release", "status", *config])
        assert "status: rolled_back" in status.output and "haproxy: blue stable, green 0%" in status.output
