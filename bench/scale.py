"""Scale: updates/s and p50/p99 latency through HAProxy at 1, 2 and 4 webhook replicas on PostgreSQL
holding 100,000 learners; the anchor, in the same run, is 2 replicas on a database of 1,000 learners
(latency must not grow with the number of learners).

Real processes on loopback: HAProxy (deploy/haproxy.cfg rendered), `fiml-bot run --webhook-url`
replicas (Telegram's outgoing rate limit off: this measures the replicas, not Telegram's 30/s), the
fake Bot API in this process, scripted learners (taken from the database's learners) taking a lesson
they have not started, each update delivered as Telegram does (in order per learner, redelivered on
non-2xx). Latency is the webhook round trip through HAProxy. After the 100,000-learner runs the
sequential scans of the big tables are counted (an index the queries need would be missing).

Usage: .venv/bin/python -m bench.scale [--learners 100000] [--load 96] [--workers 32] [--replicas 1,2,4] [--postgres URL]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from bench.benchlib import cpu_model, postgres_reachable
from bench.doctor import populate_postgres
from fiml_bot.bootstrap import BotSettings, open_content
from testing.fakebotapi import NO_LIMITS, FakeBotApi
from testing.postgres import postgres_schema
from testing.release.cluster import Cluster
from testing.release.load import Load, query, take_lesson

PROJECT = Path(__file__).resolve().parent.parent

LESSON = "risk_and_return"  # the seeded learners completed what_is_a_market and started reading_stock_prices
BIG_TABLES = ("learners", "lesson_progress", "completions", "xp_ledger", "badges", "processed_events")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_load(
    url: str, content: Path, replicas: int, learner_ids: list[int], workers: int, folder: Path
) -> dict[str, float]:
    lesson = open_content(BotSettings.from_env(content=content, preview=True)).latest(LESSON)
    # Telegram's update ids never repeat: each run continues after the previous run's
    fake = FakeBotApi(rate_limits=NO_LIMITS, first_update_id=1 + 1_000_000 * learner_ids[0])
    with Cluster(folder, content, url, replicas=replicas, green_replicas=1, fake=fake) as cluster:
        load = Load(cluster.fake, cluster.url, deadline_per_update=60)
        try:
            started = time.perf_counter()
            load.run(learner_ids, take_lesson(lesson, lesson.title), workers=workers)
            wall = time.perf_counter() - started
        finally:
            load.close()
    accepted = load.accepted()
    latencies = [1000 * (d.answered - d.sent) for d in accepted]
    return {
        "updates": len(accepted),
        "retries": len(load.deliveries) - len(accepted),
        "rate": len(accepted) / wall,
        "p50": statistics.median(latencies),
        "p99": percentile(latencies, 0.99),
    }


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def seq_scans(url: str) -> dict[str, tuple[int, int]]:
    rows = query(
        url,
        "SELECT relname, seq_scan, COALESCE(idx_scan, 0) FROM pg_stat_user_tables WHERE schemaname = current_schema()",
    )
    return {name: (int(seq), int(idx)) for name, seq, idx in rows if name in BIG_TABLES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--anchor-learners", type=int, default=1_000)
    parser.add_argument("--load", type=int, default=96, help="learners taking a lesson during each run")
    parser.add_argument("--workers", type=int, default=32, help="learners writing at the same time")
    parser.add_argument("--replicas", default="1,2,4")
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved anchor / 100,000-learner runs at 2 replicas"
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("FIML_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
    )
    args = parser.parse_args()
    if not shutil.which("haproxy") and not Path("/usr/sbin/haproxy").exists():
        raise SystemExit("bench/scale.py needs HAProxy (Debian: apt-get install haproxy)")
    server = postgres_reachable(args.postgres)
    if server is None:
        raise SystemExit("bench/scale.py needs PostgreSQL (--postgres URL)")
    print(
        f"machine: {platform.machine()} {cpu_model()}, {os.cpu_count()} cores (shared with parallel work), "
        f"Python {platform.python_version()}, PostgreSQL {server}, HAProxy via {shutil.which('haproxy') or '/usr/sbin/haproxy'}"
    )
    print(
        f"load: {args.load} learners taking {LESSON} ({args.workers} at a time), each update through HAProxy\n"
    )
    replica_counts = [int(n) for n in args.replicas.split(",")]
    results: list[tuple[str, dict[str, float]]] = []
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fiml-scale-")))
        content = work / "content-repo"
        shutil.copytree(PROJECT / "content", content / "content")
        for name in ("pyproject.toml",):
            shutil.copy(PROJECT / name, content / name)
        small = stack.enter_context(postgres_schema(args.postgres))
        big = stack.enter_context(postgres_schema(args.postgres))
        started = time.perf_counter()
        populate_postgres(small, args.anchor_learners)
        populate_postgres(big, args.learners)
        query(big, "ANALYZE")
        query(small, "ANALYZE")
        print(
            f"populated {args.anchor_learners:,} and {args.learners:,} learners in {time.perf_counter() - started:.1f} s"
        )
        # The anchor and the 100,000-learner database alternate at 2 replicas (the shared machine's
        # load drifts; interleaving is fair to both); then 1 and 4 replicas on 100,000 learners.
        # The load's learners are existing ones, fresh each run (the same work every time).
        before = seq_scans(big)
        pairs: list[tuple[dict[str, float], dict[str, float]]] = []
        for round_ in range(args.rounds):
            small_ids = list(range(1 + round_ * args.load, 1 + (round_ + 1) * args.load))
            big_ids = list(range(10_001 + round_ * args.load, 10_001 + (round_ + 1) * args.load))
            order = [("anchor", small, small_ids), ("big", big, big_ids)]
            measured_runs = {
                name: run_load(url, content, 2, ids, args.workers, work / f"{name}{round_}")
                for name, url, ids in (order if round_ % 2 == 0 else order[::-1])
            }
            anchor, measured = measured_runs["anchor"], measured_runs["big"]
            pairs.append((anchor, measured))
            print(
                f"round {round_ + 1}: p50 {anchor['p50']:.0f} ms at {args.anchor_learners:,} learners, {measured['p50']:.0f} ms at {args.learners:,}",
                flush=True,
            )
        results.append(
            (f"anchor: {args.anchor_learners:,} learners, 2 replicas", median_of([a for a, _ in pairs]))
        )
        results.append((f"{args.learners:,} learners, 2 replica(s)", median_of([b for _, b in pairs])))
        for n in replica_counts:
            if n == 2:
                continue
            ids = list(range(50_001 + n * args.load, 50_001 + (n + 1) * args.load))
            results.append(
                (
                    f"{args.learners:,} learners, {n} replica(s)",
                    run_load(big, content, n, ids, args.workers, work / f"r{n}"),
                )
            )
        time.sleep(1.0)  # PostgreSQL flushes table statistics at most once a second
        after = seq_scans(big)
    print(
        f"\n{'configuration (medians of the rounds at 2 replicas)':<38} {'updates':>8} {'updates/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'redelivered':>12}"
    )
    for label, r in results:
        print(
            f"{label:<38} {r['updates']:>8.0f} {r['rate']:>10.1f} {r['p50']:>8.1f} {r['p99']:>8.1f} {r['retries']:>12.0f}"
        )
    anchor, same = results[0][1], results[1][1]
    ratio = same["p50"] / anchor["p50"]
    verdict = "PASS" if ratio <= 1.25 else "FAIL"
    print(
        f"\np50 at {args.learners:,} learners / p50 at {args.anchor_learners:,} (2 replicas each): {ratio:.2f} (goal <= 1.25: latency does not grow with learners) {verdict}"
    )
    print("\nsequential scans during the 100,000-learner runs (table: seq_scan, idx_scan added):")
    for table in BIG_TABLES:
        seq = after.get(table, (0, 0))[0] - before.get(table, (0, 0))[0]
        idx = after.get(table, (0, 0))[1] - before.get(table, (0, 0))[1]
        print(f"  {table:<18} {seq:>6} {idx:>8}")


if __name__ == "__main__":
    main()
