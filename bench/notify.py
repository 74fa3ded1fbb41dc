"""A bot action during a 100,000-learner `notify` selection (issue 16), on SQLite, with two processes.

| metric | what is timed | goal |
|---|---|---|
| selection | `notify.select` over N learners in progress on an updated lesson (one set-based query in a read-only snapshot) | - |
| action during notify | `Tutor.handle` in this process, back to back, while another process runs the selection | waits <= 50 ms |
| action, idle | the same actions with no selection running | - |
| anchor: selection holding the write lock | the same selection run inside a write transaction (`BEGIN IMMEDIATE`, as `notify` did before), and the actions meanwhile | - |
| pruning | `prune_events` removing M update ids older than the window, in batches, while actions run | - |

Usage: .venv/bin/python -m bench.notify [--learners 100000] [--actions 200]
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

from bench.benchlib import cpu_model
from bench.gitgen import ensure_repo
from fiml_bot import notify
from fiml_bot.content import LessonContent
from fiml_bot.storage import open_storage
from fiml_bot.storage.reports import PRUNE_BATCH
from fiml_bot.tutor.engine import STORAGE_DOWN, Tutor
from fiml_bot.tutor.events import Help
from fiml_cms.config import load_settings
from fiml_cms.versions import Level
from testing.seeding import seed_learners

PROJECT = Path(__file__).resolve().parent.parent


def tutor_for(root: Path, url: str) -> Tutor:
    content = LessonContent.open(root, load_settings(root))
    return Tutor(content, open_storage(url))


def child(mode: str, url: str, root: str, lesson: str, rounds: int) -> None:
    """The other process: the selection, `rounds` times, in a snapshot or holding the write lock."""
    tutor = tutor_for(Path(root), url)
    updates = {lesson: notify.LessonUpdate(lesson, "1.0.0", "1.2.0", Level.MINOR)}
    print("ready", flush=True)
    sys.stdin.readline()
    for _ in range(rounds):
        began = time.perf_counter()
        if mode == "locked":
            with tutor.unit_of_work() as uow:  # a write transaction around the read, as before
                uow.progress.learner("nobody")
                notices = notify.select(tutor.unit_of_work, tutor.content, updates)
        else:
            notices = notify.select(tutor.unit_of_work, tutor.content, updates)
        print(f"{time.perf_counter() - began:.4f} {len(notices)}", flush=True)


LOCK_WAITS: list[float] = []  # seconds each action's unit of work waited to begin (BEGIN IMMEDIATE)


def lock_wait(tutor: Tutor) -> None:
    """How long a write transaction waits to begin right now: the part of an action a reader could delay."""
    began = time.perf_counter()
    try:
        with tutor.unit_of_work():
            LOCK_WAITS.append(time.perf_counter() - began)
    except Exception:
        LOCK_WAITS.append(time.perf_counter() - began)


def actions_while(
    process: subprocess.Popen | None, tutor: Tutor, count: int, prefix: str
) -> tuple[list[float], int]:
    """Seconds per action (and failures), back to back, until `count` are done and `process` ended."""
    times, failures, n = [], 0, 0
    LOCK_WAITS.clear()
    while n < count or (process is not None and process.poll() is None):
        n += 1
        lock_wait(tutor)
        began = time.perf_counter()
        replies = tutor.handle(f"telegram:{prefix}{n}", Help(), event_key=f"telegram:{prefix}:{n}")
        times.append(time.perf_counter() - began)
        failures += bool(replies) and replies[0].text == STORAGE_DOWN
    return times, failures


def run_child(
    mode: str, url: str, root: Path, lesson: str, rounds: int, tutor: Tutor, actions: int
) -> tuple[list[float], list[float], int, int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.notify", "--child", mode, url, str(root), lesson, str(rounds)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=PROJECT,
    )
    assert process.stdin is not None and process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    process.stdin.write("go\n")
    process.stdin.flush()
    times, failures = actions_while(process, tutor, actions, mode)
    lines = process.stdout.read().split()
    selects = [float(x) for x in lines[0::2]]
    notices = int(lines[1]) if len(lines) > 1 else 0
    process.wait()
    return times, selects, failures, notices


def ms(values: list[float], q: float | None = None) -> str:
    if not values:
        return "-"
    if q is None:
        return f"{statistics.median(values) * 1000:.1f} ms"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--actions", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--prune", type=int, default=500_000, help="old update ids to prune")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, url, root, lesson, rounds = args.child
        child(mode, url, root, lesson, int(rounds))
        return

    repo = ensure_repo(11, 3)
    lesson = next(i for i in repo.ids if i.startswith("what_is_a_market"))
    workdir = Path(tempfile.mkdtemp(prefix="fiml-bench-notify-"))
    url = f"sqlite:///{workdir / 'notify.db'}"
    open_storage(url, auto_upgrade=True).close()
    began = time.perf_counter()
    seed_learners(url, args.learners, lesson)
    print(f"seeded {args.learners} learners in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    tutor = tutor_for(repo.root, url)

    idle, _ = actions_while(None, tutor, args.actions, "idle")
    idle_waits = list(LOCK_WAITS)
    snap_times, snap_selects, snap_failures, snap_notices = run_child(
        "snapshot", url, repo.root, lesson, args.rounds, tutor, args.actions
    )
    snap_waits = list(LOCK_WAITS)
    lock_times, lock_selects, lock_failures, _lock_notices = run_child(
        "locked", url, repo.root, lesson, 1, tutor, 10
    )
    lock_waits = list(LOCK_WAITS)

    from sqlalchemy import insert

    from fiml_bot.retention import UPDATE_KEY_PREFIX
    from fiml_bot.storage.models import ProcessedEventRow

    old = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    storage = tutor.unit_of_work
    with storage.engine.begin() as connection:  # type: ignore[attr-defined]
        for start in range(0, args.prune, 50_000):
            connection.execute(
                insert(ProcessedEventRow),
                [
                    {"key": f"{UPDATE_KEY_PREFIX}{n}", "processed_at": old}
                    for n in range(start, min(args.prune, start + 50_000))
                ],
            )
    import threading

    pruned: dict[str, float] = {}

    def prune() -> None:
        t = time.perf_counter()
        pruned["count"] = storage.prune_events(old + dt.timedelta(days=1), UPDATE_KEY_PREFIX)  # type: ignore[attr-defined]
        pruned["seconds"] = time.perf_counter() - t

    thread = threading.Thread(target=prune)
    thread.start()
    prune_times, prune_failures, n = [], 0, 0
    while thread.is_alive():
        n += 1
        t = time.perf_counter()
        replies = tutor.handle(f"telegram:prune{n}", Help(), event_key=f"telegram:prune:{n}")
        prune_times.append(time.perf_counter() - t)
        prune_failures += replies[0].text == STORAGE_DOWN
    thread.join()

    print(
        f"- machine: {platform.system()} {platform.release()}, nproc {os.cpu_count()}, CPU {cpu_model()}, Python {platform.python_version()}; SQLite file, WAL"
    )
    print(f"- {args.learners} learners in progress on the updated lesson; {snap_notices} notices selected\n")
    print(
        '| case | selection (median) | actions meanwhile | write-lock wait median / p99 / max | action median | p99 | max | failed ("can\'t reach my records") |'
    )
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| no selection running | - | {len(idle)} | {ms(idle_waits)} / {ms(idle_waits, 0.99)} / {ms(idle_waits, 1.0)} | {ms(idle)} | {ms(idle, 0.99)} | {ms(idle, 1.0)} | 0 |"
    )
    print(
        f"| selection in a read-only snapshot (now) | {statistics.median(snap_selects):.2f} s x{len(snap_selects)} | {len(snap_times)} | {ms(snap_waits)} / {ms(snap_waits, 0.99)} / {ms(snap_waits, 1.0)} | {ms(snap_times)} | {ms(snap_times, 0.99)} | {ms(snap_times, 1.0)} | {snap_failures} |"
    )
    print(
        f"| anchor: the same selection holding the write lock (before) | {statistics.median(lock_selects):.2f} s | {len(lock_times)} | {ms(lock_waits)} / {ms(lock_waits, 0.99)} / {ms(lock_waits, 1.0)} | {ms(lock_times)} | {ms(lock_times, 0.99)} | {ms(lock_times, 1.0)} | {lock_failures} |"
    )
    print(
        f"| pruning {pruned['count']} update ids (batches of {PRUNE_BATCH:,}) | {pruned['seconds']:.2f} s | {len(prune_times)} | - | {ms(prune_times)} | {ms(prune_times, 0.99)} | {ms(prune_times, 1.0)} | {prune_failures} |"
    )
    goal = max(snap_waits) <= 0.05
    print(
        f"\ngoal: an action during the selection waits <= 50 ms for the write lock: {'met' if goal else 'MISSED'} (max {ms(snap_waits, 1.0)}); whole actions: median {ms(snap_times)}, max {ms(snap_times, 1.0)}"
    )
    import shutil

    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
