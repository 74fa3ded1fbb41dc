"""The continuity simulation at scale: N learners (default 1,000) across the release train.

The same simulation as `tests/e2e/bot/test_continuity.py` (see `testing/simulation/`): a real content
repository made in a temporary folder from the project's lessons, every release a real commit and
tag made with fiml-cms (patch, minor, minor, major, a yanked version, a renamed id, a raised
`xp_reward`), a real database, the real `Tutor`, driven only through `Tutor.handle`, with the oracle
checking every action and a checkpoint at every release.

Prints each invariant family (held or broken, with examples), the §5 decisions met, and the timing;
exits 1 when an invariant was broken.

Usage: .venv/bin/python -m bench.continuity [--learners 1000] [--seed N] [--postgres [URL]] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from bench.benchlib import cpu_model
from testing.postgres import postgres_schema
from testing.simulation import CATEGORIES, Config, Report, run_simulation

FAMILIES = {
    "xp": "0 XP lost, none paid twice",
    "completions": "0 completions lost (renames move them)",
    "policy": "in-progress learners pinned or moved by exactly the §5 rule",
    "records": "progress records consistent",
    "messages": "replies well formed (text, buttons <= 64 bytes)",
    "errors": "no exception escaped or was logged",
    "idempotency": "a repeated update is applied once",
}


def machine() -> str:
    cpu = cpu_model()
    return f"{platform.system()} {platform.release()} {platform.machine()}, nproc {os.cpu_count()}, CPU {cpu}, Python {platform.python_version()}"


def print_report(name: str, report: Report, wall: float) -> bool:
    print(f"\n## {name}: {report.config.learners} learners, seed {report.config.seed}\n")
    print(report.summary())
    print("\n| invariant | result |\n|---|---|")
    ok = True
    for family, label in FAMILIES.items():
        broken = report.failures(family) + (report.failures("other") if family == "errors" else [])
        ok &= not broken
        print(
            f"| {label} | {'held' if not broken else 'BROKEN: ' + '; '.join(b.splitlines()[0] for b in broken)} |"
        )
    print(
        f"\nwall {wall:.1f} s; actions {report.actions} ({report.actions / wall:.0f}/s overall, "
        f"{report.actions / max(report.handle_seconds, 1e-9):.0f}/s inside Tutor.handle); publishing {report.release_seconds:.1f} s"
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=Config.seed)
    parser.add_argument(
        "--phase-max", type=int, default=Config.phase_max, help="most actions per learner between releases"
    )
    parser.add_argument(
        "--postgres",
        nargs="?",
        const=os.environ.get("FIML_TEST_POSTGRES_URL", ""),
        default=None,
        help="also (or only, with --no-sqlite) run on PostgreSQL: a URL, default $FIML_TEST_POSTGRES_URL",
    )
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--keep", type=Path, help="keep the repository and the database in this folder")
    args = parser.parse_args(argv)
    print(f"# Continuity simulation\n\nmachine: {machine()}")
    assert {c for c, _ in CATEGORIES} >= set(FAMILIES)
    ok = True
    runs = ([] if args.no_sqlite else ["sqlite"]) + (["postgres"] if args.postgres is not None else [])
    for kind in runs:
        folder = args.keep / kind if args.keep else Path(tempfile.mkdtemp(prefix=f"fiml-continuity-{kind}-"))
        folder.mkdir(parents=True, exist_ok=True)
        config = Config(learners=args.learners, seed=args.seed, phase_max=args.phase_max)
        started = time.perf_counter()
        if kind == "sqlite":
            report = run_simulation(config, folder)
        else:
            if not args.postgres:
                print("\n## postgres: skipped (no URL: pass --postgres URL or set FIML_TEST_POSTGRES_URL)")
                continue
            with postgres_schema(args.postgres) as url:
                from dataclasses import replace

                report = run_simulation(replace(config, database_url=url), folder)
        ok &= print_report(kind, report, time.perf_counter() - started)
        if not args.keep:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
