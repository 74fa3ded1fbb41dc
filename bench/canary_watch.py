"""Benchmark one `fiml-bot canary watch` check on a large progress store (SQLite, PostgreSQL optional).

N learners started "What Is a Market?" since a canary began, half on 1.1.0 (the canary) and half on
1.0.0; each answered its five questions once (`quiz_answers`, attempt 1), most completed, and every 50th
reported a problem. Every learner also has a record of a second lesson, which the check must skip.

| metric | what is timed | anchor in the same run |
|---|---|---|
| check | `canary_watch.assess`: window start, two grouped queries, the first answers in order, the statistics | `SELECT count(*) FROM lesson_progress` |

Medians of --runs runs; the verdict is checked before timing (identical data: not a rollback).

Usage: .venv/bin/python -m bench.canary_watch [--learners 100000] [--runs 5] [--postgres URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text

from bench.benchlib import cpu_model, postgres_reachable
from fiml_bot.ops.canary_stats import ROLLBACK
from fiml_bot.ops.canary_watch import assess
from fiml_bot.storage import migrations_api
from fiml_bot.storage.unit_of_work import open_storage
from fiml_cms.flagfile import Canary

LESSON, OTHER = "what_is_a_market", "reading_stock_prices"
CANARY = Canary(LESSON, "1.1.0", "1.0.0", 50)
T0 = dt.datetime(2026, 12, 1, 9, 0)


def rows(n: int) -> dict[str, tuple[str, list[tuple[object, ...]]]]:
    learners, progress, answers, reports = [], [], [], []
    for i in range(n):
        who = f"telegram:{i}"
        version = CANARY.version if i % 2 else CANARY.stable
        at = str(T0 + dt.timedelta(seconds=i))
        done = i % 7 != 0
        learners.append((who, "", "UTC", True, 1, None, True, None, at, 1))
        progress.append(
            (who, LESSON, version, "completed" if done else "quiz", None, "[]", "[]", 1, at, at, 1)
        )
        progress.append((who, OTHER, "1.0.0", "in_progress", "intro", "[]", "[]", 1, str(T0), str(T0), 1))
        for q in range(1, 6):
            answers.append((who, LESSON, 1, f"q{q}", version, "2", (i + q) % 5 != 0, at))
        if i % 50 == 0:
            reports.append((who, LESSON, version, None, "q2", "unclear wording", at))
    return {
        "learners": (
            "id, name, time_zone, active, streak_days, last_active_day, freeze_available, freeze_used_on, created_at, revision",
            learners,
        ),
        "lesson_progress": (
            "learner_id, lesson_id, pinned_version, status, current_section, sections_done, answers, attempt, started_at, updated_at, revision",
            progress,
        ),
        "quiz_answers": (
            "learner_id, lesson_id, attempt, question_id, version, given, correct, answered_at",
            answers,
        ),
        "learner_reports": (
            "learner_id, lesson_id, version, section_id, question_id, words, created_at",
            reports,
        ),
    }


def populate_sqlite(path: Path, n: int) -> str:
    url = f"sqlite:///{path}"
    migrations_api.upgrade(url)
    connection = sqlite3.connect(path)
    for table, (columns, values) in rows(n).items():
        marks = ", ".join("?" for _ in values[0])
        connection.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", values)
    connection.commit()
    connection.close()
    return url


def populate_postgres(url: str, n: int) -> str:
    from fiml_bot.storage.database import make_engine

    migrations_api.upgrade(url)
    engine = make_engine(url)
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        with raw.cursor() as cursor:  # type: ignore[union-attr]
            for table, (columns, values) in rows(n).items():
                with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in values:
                        copy.write_row(row)
        raw.commit()  # type: ignore[union-attr]
    engine.dispose()
    return url


def median(run: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(url: str, runs: int) -> tuple[float, float]:
    now = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)
    with open_storage(url) as storage:
        verdict = assess(storage, CANARY, now)
        assert verdict.action != ROLLBACK, verdict.reason
        assert verdict.canary_learners > 0 and verdict.stable_learners > 0
        check = median(lambda: assess(storage, CANARY, now), runs)

        def count() -> None:
            with storage.engine.connect() as connection:
                connection.execute(text("SELECT count(*) FROM lesson_progress")).scalar()

        anchor = median(count, runs)
    return check, anchor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--postgres", default=os.environ.get("FIML_TEST_POSTGRES_URL", ""))
    args = parser.parse_args()
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, {cpu_model()}; {args.learners:,} learners")
    with tempfile.TemporaryDirectory() as folder:
        url = populate_sqlite(Path(folder) / "bench.db", args.learners)
        check, anchor = measure(url, args.runs)
        print(
            f"SQLite: check {check * 1000:.1f} ms, count(*) {anchor * 1000:.1f} ms, ratio {check / anchor:.1f}"
        )
    if args.postgres:
        if postgres_reachable(args.postgres) is None:
            return
        from testing.postgres import postgres_schema

        with postgres_schema(args.postgres) as pg_url:
            populate_postgres(pg_url, args.learners)
            check, anchor = measure(pg_url, args.runs)
            print(
                f"PostgreSQL: check {check * 1000:.1f} ms, count(*) {anchor * 1000:.1f} ms, ratio {check / anchor:.1f}"
            )


if __name__ == "__main__":
    main()
