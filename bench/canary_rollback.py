"""How soon `fiml-bot canary watch` rolls back a content canary with a wrong answer key, and how often it
rolls back identical content: the scripted learner population of `testing/canary_drill.py` over many
seeds (issue 24).

Each run is the drill the test runs (a real content repository, the real tutor, a SQLite progress
store, the watcher's check after every learner): a canary at 50 % whose key is wrong for q3, on a
live lesson (100 learners took the stable version before) and on a new one (no history), counted as
the canary learners who had answered q3 when it was rolled back; and identical content, 200 learners
a run with a check every 4 learners, counted as rollbacks. No timing: the figures are counts.

Usage: .venv/bin/python -m bench.canary_rollback [--broken-runs 30] [--same-runs 100]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
from pathlib import Path

from bench.benchlib import PROJECT_LESSONS, cpu_model
from testing.canary_drill import LESSON, Drill, make_repository

GOAL = 30  # rolled back before this many canary learners answered the broken question


def broken(folder: Path, runs: int, history: int) -> list[int | None]:
    """Canary learners who had answered q3 at the rollback, per seed (None: never rolled back)."""
    flags = make_repository(folder / f"broken-{history}", PROJECT_LESSONS / f"{LESSON}.yaml", broken=True)
    found: list[int | None] = []
    for seed in range(runs):
        drill = Drill(flags.parent.parent, flags, folder / f"b{history}-{seed}.db", seed, history=history)
        try:
            found.append(drill.run(200).broken_answers_at_rollback)
        finally:
            drill.close()
    return found


def identical(folder: Path, runs: int) -> list[int]:
    """The seeds whose run of 200 learners on identical content was rolled back."""
    flags = make_repository(folder / "same", PROJECT_LESSONS / f"{LESSON}.yaml", broken=False)
    rolled = []
    for seed in range(runs):
        drill = Drill(flags.parent.parent, flags, folder / f"s{seed}.db", 1000 + seed, check_every=4)
        try:
            if drill.run(200).rolled_back:
                rolled.append(1000 + seed)
        finally:
            drill.close()
        if (seed + 1) % 10 == 0:  # a long case: say how far it got
            print(f"  identical content: {len(rolled)} rollbacks in the first {seed + 1} runs", flush=True)
    return rolled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broken-runs", type=int, default=30, help="seeds per broken case")
    parser.add_argument("--same-runs", type=int, default=100, help="runs of 200 learners, identical content")
    args = parser.parse_args()
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, {cpu_model()}")
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        cases = ((100, "live lesson (100 earlier learners)"), (0, "new lesson"))
        for history, label in cases if args.broken_runs else ():
            found = broken(folder, args.broken_runs, history)
            caught = sorted(n for n in found if n is not None)
            missed = len(found) - len(caught)
            under = sum(n < GOAL for n in caught)
            print(
                f"wrong key, {label}: {args.broken_runs} seeds, canary learners who answered q3 at the "
                f"rollback: median {statistics.median(caught) if caught else '-'}, max "
                f"{caught[-1] if caught else '-'}, under {GOAL}: {under} of {len(found)}, never rolled "
                f"back: {missed}; all: {caught}",
                flush=True,
            )
        rolled = identical(folder, args.same_runs)
        print(f"identical content: {len(rolled)} rollbacks in {args.same_runs} runs of 200 learners {rolled}")


if __name__ == "__main__":
    main()
