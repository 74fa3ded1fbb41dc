"""Releases that protect learners: how many updates a broken canary fails before the release rolls
back, and how often a healthy release is rolled back for nothing.

The independent drill's shape, on loopback: blue and green (2 webhook replicas each) behind a real
HAProxy on PostgreSQL, the fake Bot API, `fiml-bot release start` as a process of its own with the
defaults that matter (analysis_interval 30 s, min_samples 50, confidence 99 %, 5 % error limit).

* Broken: green's quiz handler raises for question q2 (testing/release/faulty_question.py); the
  canary is 10 %. Updates arrive at a fixed total rate (0.5/s and 50/s by default, as in the
  independent drill), one in ten from a learner HAProxy routes to green who presses q2's answer (so
  every canary update fails), the others from blue learners asking /help; each is delivered once.
  The count is the canary updates that failed before the rollback (goal: at most 5). Afterwards every
  failed update is delivered again, as Telegram does, and must be applied exactly once, on blue, with
  no apology sent to anyone.
* Healthy: both colors fail 1 % of actions at random (a transient fault); learners take lessons and
  chat through HAProxy for --healthy-seconds with the canary at 50 %; the goal is 0 rollbacks in 20 runs.

Usage: .venv/bin/python -m bench.release [--rates 0.5,50] [--runs 5] [--healthy-runs 20] [--postgres URL]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.benchlib import cpu_model, postgres_reachable
from fiml_bot import __version__
from fiml_bot.bootstrap import BotSettings, open_content
from testing.fakebotapi import NO_LIMITS, FakeBotApi
from testing.postgres import postgres_schema
from testing.release.cluster import Cluster, bot_env
from testing.release.load import Delivery, Load, chatter, processed_keys, say, take_lesson, tap

PROJECT = Path(__file__).resolve().parent.parent
LESSON, TITLE, BROKEN = "what_is_a_market", "What Is a Market?", "q2"
PHASES = """
      - traffic_split: {split}%
        duration: 1h
        rollback_on_error_rate: 5%
      - traffic_split: 100%
        duration: permanent"""
RUN_DEADLINE = 120.0  # seconds a run may take before it is stopped and counted as failed


class Bench:
    def __init__(self, cluster: Cluster, folder: Path, database: str, content: Path) -> None:
        self.cluster, self.folder, self.database, self.content = cluster, folder, database, content
        self.runs = 0

    def state(self) -> dict[str, Any]:
        path = self.cluster.config.state
        return json.loads(path.read_text()) if path.exists() else {}

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [
            sys.executable,
            "-m",
            "fiml_bot",
            "release",
            *args,
            "--config",
            str(self.cluster.config_path),
        ]
        return subprocess.run(
            command, env=self.env(), cwd=self.folder, capture_output=True, text=True, timeout=60, check=False
        )

    def env(self) -> dict[str, str]:
        return bot_env(self.cluster.fake.default_token)

    def start_release(self) -> subprocess.Popen[bytes]:
        """`fiml-bot release start` in its own process; returns once the first phase is on."""
        self.runs += 1
        command = [sys.executable, "-m", "fiml_bot", "release", "start", __version__]
        command += ["--config", str(self.cluster.config_path), "--database", self.database]
        with open(self.folder / f"release{self.runs}.log", "wb") as log:
            process = subprocess.Popen(
                [*command, "--content", str(self.content)],
                env=self.env(),
                cwd=self.folder,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while not (self.state().get("status") == "running" and self.state().get("phase") == 0):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(
                    f"the release did not start:\n{(self.folder / f'release{self.runs}.log').read_text()}"
                )
            time.sleep(0.05)
        return process

    def colors(self, load: Load, learners: list[int], split: int) -> dict[int, str]:
        """Which color HAProxy gives each learner at `split`% (asked by hand, before the release)."""
        self.must("switch", "green", str(split))
        found = {learner: say(load, learner, "/help").color or "" for learner in learners}
        self.must("switch", "green", "0")
        return found

    def must(self, *args: str) -> None:
        done = self.cli(*args)
        if done.returncode != 0:
            raise SystemExit(
                f"fiml-bot release {' '.join(args)}: exit {done.returncode}\n{done.stdout}{done.stderr}"
            )


def to_question(load: Load, learner: int, lesson: Any) -> dict[str, Any]:
    """Take the learner to the broken question (on blue); the callback data of its right answer."""
    say(load, learner, "/start")
    tap(load, learner, "Lessons")
    tap(load, learner, TITLE)
    for _ in lesson.sections:
        tap(load, learner, "Next" if "Next" in str(load.fake.last_buttons(learner)) else "Start the quiz")
    first = lesson.quiz.questions[0]
    tap(load, learner, f"{first.answer + 1}. ")
    message = [m for m in load.fake.messages(learner) if m.from_bot and m.buttons][-1]
    data = next(
        d for t, d in message.buttons if ("False" if not lesson.quiz.questions[1].answer else "True") in t
    )
    return {"message_id": message.message_id, "data": data}


def once(load: Load, learner: int, update: dict[str, Any]) -> Delivery:
    """One delivery, no retry (the run counts what a broken canary answers)."""
    import httpx

    from testing.release.cluster import SECRET
    from testing.release.load import SECRET_HEADER

    sent = time.time()
    try:
        response = load.client.post(
            load.url,
            content=json.dumps(update).encode(),
            headers={"Content-Type": "application/json", SECRET_HEADER: SECRET},
        )
        status, color = response.status_code, response.headers.get("X-Fiml-Color")
    except httpx.HTTPError:
        status, color = None, None
    delivery = Delivery(learner, update["update_id"], status, color, sent, time.time())
    with load._lock:
        load.deliveries.append(delivery)
    return delivery


def broken_run(
    bench: Bench, lesson: Any, rate: float, first_learner: int, max_updates: int, canary_every: int = 10
) -> dict[str, float]:
    cluster = bench.cluster
    load = Load(cluster.fake, cluster.url, deadline_per_update=60)
    try:
        candidates = list(range(first_learner, first_learner + 40))
        with ThreadPoolExecutor(8) as pool:
            presses = dict(
                zip(candidates, pool.map(lambda learner: to_question(load, learner, lesson), candidates))
            )
        colors = bench.colors(load, candidates, 10)
        canary = [learner for learner in candidates if colors[learner] == "green"]
        if not canary:
            raise SystemExit("no candidate learner is on green at 10%: add candidates")
        process = bench.start_release()
        started = time.monotonic()
        failed: list[tuple[int, dict[str, Any], Delivery]] = []
        lock = threading.Lock()

        stable = [learner for learner in candidates if colors[learner] != "green"]

        def press(i: int) -> None:
            if i % canary_every:  # the others: a blue learner asks for help
                learner = stable[i % len(stable)]
                update = cluster.fake.user_message(learner, "/help", enqueue=False)
            else:  # one in `canary_every`: a canary learner presses the broken question's answer
                learner = canary[(i // canary_every) % len(canary)]
                p = presses[learner]
                update = cluster.fake.callback(learner, p["message_id"], p["data"], enqueue=False)
            delivery = once(load, learner, update)
            if delivery.status is None or not 200 <= delivery.status < 300:
                with lock:
                    failed.append((learner, update, delivery))

        with ThreadPoolExecutor(16) as pool:
            for i in range(max_updates):
                due = started + i / rate
                while (now := time.monotonic()) < due and process.poll() is None:
                    time.sleep(min(0.005, due - now))
                if process.poll() is not None:
                    break
                pool.submit(press, i)
        code = process.wait(RUN_DEADLINE)
        state = bench.state()
        rollback_at = next((e["at"] for e in state["log"] if e["step"] == "rollback"), None)
        if code != 1 or state["status"] != "rolled_back" or rollback_at is None:
            raise SystemExit(f"the release was not rolled back (exit {code}): {state.get('log', [])[-3:]}")
        on_green = sorted((d for _, _, d in failed if d.color == "green"), key=lambda d: d.answered)
        # Telegram redelivers each failed update until it is accepted: now on blue, applied once.
        for learner, update, _ in failed:
            load.deliver(learner, update)
        keys = processed_keys(bench.database)
        for _, update, _ in failed:
            assert keys.count(f"telegram:{update['update_id']}") == 1, update["update_id"]
        for learner in canary:
            texts = [m.text for m in cluster.fake.messages(learner) if m.from_bot]
            assert not [t for t in texts if "went wrong" in t], (learner, texts[-3:])
        second = on_green[1].answered if len(on_green) >= 2 else on_green[-1].answered
        return {
            "failed": len(on_green),
            "evidence_to_rollback": rollback_at - second,
            "canary_learners": len(canary),
        }
    finally:
        load.close()


def healthy_run(bench: Bench, lesson: Any, seconds: float, first_learner: int) -> bool:
    """A release of a healthy green with background noise: True when it was not rolled back."""
    cluster = bench.cluster
    load = Load(cluster.fake, cluster.url, deadline_per_update=60)
    process = bench.start_release()
    try:
        stop_at = time.monotonic() + seconds
        learners = iter(range(first_learner, first_learner + 100_000))

        def learner_loop() -> None:
            while time.monotonic() < stop_at and process.poll() is None:
                learner = next(learners)
                try:
                    take_lesson(lesson, TITLE)(load, learner)
                except (AssertionError, StopIteration):  # a noisy fault's apology replaced the buttons
                    pass
                chatter(4, pause=0.1)(load, learner)

        threads = [threading.Thread(target=learner_loop) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(seconds + 120)
        rolled_back = process.poll() is not None or bench.state().get("status") != "running"
        if not rolled_back:
            bench.must("abort", "--reason", "bench run over")
        process.wait(60)
        return not rolled_back
    finally:
        if process.poll() is None:
            process.kill()
        load.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="0.5,50", help="canary updates per second, comma-separated")
    parser.add_argument("--runs", type=int, default=5, help="broken-canary runs per rate")
    parser.add_argument(
        "--canary-every", type=int, default=10, help="1 in N updates from a canary learner (1: every update)"
    )
    parser.add_argument("--healthy-runs", type=int, default=20)
    parser.add_argument("--healthy-seconds", type=float, default=20.0)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("FIML_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
    )
    args = parser.parse_args()
    server = postgres_reachable(args.postgres)
    if server is None:
        raise SystemExit("bench/release.py needs PostgreSQL (--postgres URL)")
    print(
        f"machine: {platform.machine()} {cpu_model()}, {os.cpu_count()} cores (shared with parallel work), "
        f"Python {platform.python_version()}, PostgreSQL {server}, HAProxy {shutil.which('haproxy') or '/usr/sbin/haproxy'}",
        flush=True,
    )
    from fiml_bot.storage import migrations_api

    options = {"interval": "30s", "min_samples": 50, "integrity": "5m"}
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fiml-release-bench-")))
        content = work / "content-repo"
        shutil.copytree(PROJECT / "content", content / "content")
        (content / ".fiml-cms.toml").write_text("# defaults\n")
        lesson = open_content(BotSettings.from_env(content=content, preview=True)).latest(LESSON)
        database = stack.enter_context(postgres_schema(args.postgres))
        migrations_api.upgrade(database, "head")

        broken_env = {"FIML_PLUGINS": "testing.release.faulty_question", "FIML_FAULT_QUESTION": BROKEN}
        (work / "broken").mkdir()
        with Cluster(
            work / "broken",
            content,
            database,
            replicas=2,
            green_env=broken_env,
            rollout_options={**options, "phases": PHASES.format(split=10)},
            fake=FakeBotApi(rate_limits=NO_LIMITS, first_update_id=1),
        ) as cluster:
            bench = Bench(cluster, work / "broken", database, content)
            print(
                f"\nbroken canary (green's quiz handler raises for q2; 1 in {args.canary_every} updates on green, each failing):"
            )
            print(
                f"{'updates/s':>16} {'run':>4} {'failed before rollback':>23} {'2nd failure -> rollback':>24}"
            )
            summary = []
            for rate in [float(r) for r in args.rates.split(",")]:
                results = []
                for run in range(args.runs):
                    r = broken_run(
                        bench,
                        lesson,
                        rate,
                        100_000 * (len(summary) * args.runs + run + 1),
                        2000,
                        args.canary_every,
                    )
                    results.append(r)
                    print(
                        f"{rate:>16g} {run + 1:>4} {r['failed']:>23.0f} {1000 * r['evidence_to_rollback']:>21.0f} ms",
                        flush=True,
                    )
                summary.append((rate, results))
        healthy_env = {"FIML_PLUGINS": "testing.release.faulty_question", "FIML_NOISE_PERCENT": "1"}
        (work / "healthy").mkdir()
        kept = 0
        if args.healthy_runs:
            with Cluster(
                work / "healthy",
                content,
                database,
                replicas=2,
                green_env=healthy_env,
                blue_env=healthy_env,
                rollout_options={**options, "phases": PHASES.format(split=50)},
                fake=FakeBotApi(rate_limits=NO_LIMITS, first_update_id=10_000_000),
            ) as cluster:
                bench = Bench(cluster, work / "healthy", database, content)
                print(
                    f"\nhealthy green (both colors fail 1% of actions at random; 50% on green, {args.healthy_seconds:g} s a run):"
                )
                for run in range(args.healthy_runs):
                    ok = healthy_run(bench, lesson, args.healthy_seconds, 50_000_000 + 100_000 * run)
                    kept += ok
                    counts = bench.state().get("phase_counts", {})
                    print(
                        f"  run {run + 1:>2}: {'kept (aborted by the bench at the end)' if ok else 'ROLLED BACK: ' + bench.state().get('reason', '')}; {json.dumps({c: {k: v for k, v in n.items() if k in ('total', 'failed')} for c, n in counts.items()})}",
                        flush=True,
                    )
    print("\nsummary:")
    for rate, results in summary:
        failed = [r["failed"] for r in results]
        reaction = [1000 * r["evidence_to_rollback"] for r in results]
        verdict = "PASS" if max(failed) <= 5 else "FAIL"
        print(
            f"  {rate:g} updates/s ({rate / args.canary_every:g}/s on the canary): failed before rollback median {statistics.median(failed):g}, max {max(failed)} (goal <= 5) {verdict}; 2nd failure -> rollback median {statistics.median(reaction):.0f} ms, max {max(reaction):.0f} ms"
        )
    if args.healthy_runs:
        rolled = args.healthy_runs - kept
        print(
            f"  healthy: {rolled} rollback(s) in {args.healthy_runs} runs (goal 0) {'PASS' if rolled == 0 else 'FAIL'}"
        )


if __name__ == "__main__":
    main()
