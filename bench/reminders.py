"""Planning streak reminders for 100,000 learners (issue 26), on SQLite or PostgreSQL, with two processes.

| metric | what is timed | goal |
|---|---|---|
| planning | `reminders.plan`: one read-only snapshot of the learners with a streak, then the reminders scheduled in batches of 250, each its own short write transaction, 2 ms apart | <= 5 s |
| action during planning | `Tutor.handle` in this process, back to back, while another process plans | <= 50 ms |
| action, idle | the same actions with no planner running, for as long as the planning rounds took (the machine's own tail, to compare with) | - |
| anchor: one transaction | the same reminders scheduled in a single write transaction (batch = all), and the actions meanwhile | - |

Usage: .venv/bin/python -m bench.reminders [--learners 100000] [--rounds 3] [--database postgresql://...]
(a PostgreSQL database is emptied of learners first; default: a new SQLite file in WAL mode)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import Engine, delete, event, insert

from bench.benchlib import cpu_model
from bench.gitgen import ensure_repo
from fiml_bot import reminders
from fiml_bot.content import LessonContent
from fiml_bot.storage import open_storage
from fiml_bot.storage.database import make_engine
from fiml_bot.storage.models import Base, LearnerRow, ScheduledMessageRow
from fiml_bot.tutor.engine import STORAGE_DOWN, Tutor
from fiml_bot.tutor.events import Help
from fiml_cms.config import load_settings

PROJECT = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)
ZONES = (
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Australia/Sydney",
    "America/Sao_Paulo",
)


def seed(url: str, count: int, batch: int = 10_000) -> None:
    """`count` Telegram learners with a 5-day streak, last active yesterday, in eight time zones."""
    engine = make_engine(url)
    try:
        for start in range(0, count, batch):
            rows = [
                {
                    "id": f"telegram:{2_000_000 + n}",
                    "name": "",
                    "time_zone": ZONES[n % len(ZONES)],
                    "active": True,
                    "streak_days": 5,
                    "last_active_day": dt.date(2026, 12, 6),
                    "freeze_available": True,
                    "freeze_used_on": None,
                    "created_at": NOW - dt.timedelta(days=30),
                    "revision": 1,
                }
                for n in range(start, min(count, start + batch))
            ]
            with engine.begin() as connection:
                connection.execute(insert(LearnerRow), rows)
    finally:
        engine.dispose()


KEPT = {"schema_window", "database_identity", "provider_keys", "send_budget"}  # not learners' data


def wipe(url: str) -> None:
    """Every learner's data deleted (a PostgreSQL database used before)."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                if table.name not in KEPT:
                    connection.execute(delete(table))
    finally:
        engine.dispose()


def clear(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(delete(ScheduledMessageRow))
    finally:
        engine.dispose()


def child(url: str, batch: int) -> None:
    """The other process: plan once, print the seconds and how many were planned."""
    storage = open_storage(url)
    print("ready", flush=True)
    sys.stdin.readline()
    began = time.perf_counter()
    planned = reminders.plan(storage, NOW, batch=batch)
    print(f"{time.perf_counter() - began:.4f} {planned}", flush=True)
    storage.close()


class LockTimes:
    """When this process's transaction held its write lock (SQLite: after BEGIN IMMEDIATE): an
    action's time until then is mostly its wait for the lock the planner holds, the part of its
    time planning can add (the rest is the CPU's)."""

    def __init__(self, engine: Engine) -> None:
        self.held_at: float | None = None
        event.listen(engine, "begin", self._held)  # after the engine's own `begin` listener

    def _held(self, _connection: object) -> None:
        if self.held_at is None:
            self.held_at = time.perf_counter()

    def wait_since(self, began: float) -> float:
        held_at, self.held_at = self.held_at, None
        return 0.0 if held_at is None else held_at - began


WAITS: list[float] = []  # per action: seconds until it held the write lock (see `LockTimes`)
LOCKS: list[LockTimes] = []  # the one of the actions' engine


def actions_while(
    process: subprocess.Popen | None, tutor: Tutor, count: int, prefix: str, seconds: float = 0.0
) -> tuple[list[float], int]:
    """Seconds per action (and failures), back to back, until `count` are done, `seconds` have
    passed and `process` ended; each action's wait for the write lock is appended to `WAITS`."""
    times, failures, n = [], 0, 0
    until = time.perf_counter() + seconds
    while n < count or time.perf_counter() < until or (process is not None and process.poll() is None):
        n += 1
        LOCKS[0].held_at = None
        began = time.perf_counter()
        replies = tutor.handle(f"telegram:{prefix}{n}", Help(), event_key=f"telegram:{prefix}:{n}")
        times.append(time.perf_counter() - began)
        WAITS.append(LOCKS[0].wait_since(began))
        failures += bool(replies) and replies[0].text == STORAGE_DOWN
        if n > 1_000_000:  # bounded: a planner that never ends must not keep this loop going
            break
    return times, failures


def plan_beside_actions(
    url: str, batch: int, tutor: Tutor, prefix: str
) -> tuple[float, int, list[float], int]:
    clear(url)
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.reminders", "--child", url, str(batch)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=PROJECT,
    )
    assert process.stdin is not None and process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    process.stdin.write("go\n")
    process.stdin.flush()
    times, failures = actions_while(process, tutor, 20, prefix)
    seconds, planned = process.stdout.read().split()
    process.wait()
    return float(seconds), int(planned), times, failures


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(values: list[float], q: float | None = None) -> str:
    if q is None:
        return f"{statistics.median(values) * 1000:.1f} ms"
    return f"{quantile(values, q) * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=reminders.BATCH, help="reminders per write transaction")
    parser.add_argument("--database", help="a PostgreSQL URL (default: a new SQLite file)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return

    repo = ensure_repo(11, 3)
    workdir = Path(tempfile.mkdtemp(prefix="fiml-bench-reminders-"))
    url = args.database or f"sqlite:///{workdir / 'reminders.db'}"
    open_storage(url, auto_upgrade=True).close()
    if args.database:
        wipe(url)
    seed(url, args.learners)
    storage = open_storage(url)
    LOCKS.append(LockTimes(storage.engine))
    tutor = Tutor(LessonContent.open(repo.root, load_settings(repo.root)), storage)

    rounds = [plan_beside_actions(url, args.batch, tutor, f"r{i}-") for i in range(args.rounds)]
    waits = WAITS[:]
    anchor = plan_beside_actions(url, args.learners, tutor, "anchor-")
    del WAITS[:]
    idle, _ = actions_while(None, tutor, 200, "idle", sum(r[0] for r in rounds))

    print(
        f"- machine: {platform.system()} {platform.release()}, nproc {os.cpu_count()}, CPU {cpu_model()}, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}; "
        + ("PostgreSQL" if args.database else "SQLite file, WAL")
    )
    print(f"- {args.learners} learners with a streak at risk; {rounds[0][1]} reminders planned per round\n")
    print("| case | planning (median of rounds) | actions meanwhile | action median | p99 | max | failed |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    times = [t for r in rounds for t in r[2]]
    print(
        f"| planning, batches of {args.batch} | {statistics.median(r[0] for r in rounds):.2f} s | "
        f"{len(times)} | {ms(times)} | {ms(times, 0.99)} | {max(times) * 1000:.1f} ms | {sum(r[3] for r in rounds)} |"
    )
    print(
        f"| anchor: one transaction | {anchor[0]:.2f} s | {len(anchor[2])} | {ms(anchor[2])} | "
        f"{ms(anchor[2], 0.99)} | {max(anchor[2]) * 1000:.1f} ms | {anchor[3]} |"
    )
    print(f"| idle | - | {len(idle)} | {ms(idle)} | {ms(idle, 0.99)} | {max(idle) * 1000:.1f} ms | 0 |")
    print(
        f"\nplanning's effect on an action: max {max(times) / max(idle):.2f}x the idle max "
        f"({(max(times) - max(idle)) * 1000:+.1f} ms), p99 {quantile(times, 0.99) / quantile(idle, 0.99):.2f}x"
    )
    print(
        f"beside planning, an action's time until it held the write lock: median {ms(waits)}, "
        f"p99 {ms(waits, 0.99)}, max {max(waits) * 1000:.1f} ms; idle: max {max(WAITS) * 1000:.1f} ms"
    )
    over = [t for t in times if t > 0.05]
    print(
        f"actions over 50 ms: {len(over)} of {len(times)} beside planning, {sum(t > 0.05 for t in idle)} of {len(idle)} idle"
    )


if __name__ == "__main__":
    main()
