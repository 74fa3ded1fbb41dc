"""Benchmark `fiml-bot doctor`, `db snapshot` and `db restore` on 100,000 learners (SQLite and PostgreSQL).

Each learner completed "What Is a Market?" (completion, lesson award, three answer awards, badge) and
is in the second section of "Reading a Stock Quote": 9 rows per learner, 900,000 in all. The content
is the project's lessons (served as a preview, version 1.0.0).

| metric | what is timed | anchor in the same run | goal |
|---|---|---|---|
| doctor, SQLite | `doctor.run(url, content)`: every check | `PRAGMA integrity_check` | <= 30 s |
| doctor, PostgreSQL | the same | a `count(*)` of every table | - |
| snapshot | `snapshots.take` (backup/pg_dump + counts + sha256 + manifest) | `sqlite3 .backup` / bare `pg_dump -Fc` | - |
| restore | `restore.restore` with 1,000 learners who earned more after the snapshot (pre-restore snapshot, replace, merge) | `sqlite3 .restore` / bare `pg_restore` into a fresh database | - |

Medians of --runs runs. The doctor's result is checked before timing (clean; one hand-corrupted row
found and named), and every restore is checked to keep the later XP.

Usage: .venv/bin/python -m bench.doctor [--learners 100000] [--runs 3] [--postgres URL | --no-postgres] [--no-sqlite]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.benchlib import cpu_model, postgres_reachable
from fiml_bot.bootstrap import BotSettings, open_content
from fiml_bot.ops import doctor, pgtools, restore, snapshots
from fiml_bot.storage import migrations_api
from fiml_bot.storage.database import make_engine, parse_url

PROJECT = Path(__file__).resolve().parent.parent
T0 = dt.datetime(2026, 3, 2, 9, 0)
DONE, READING = "what_is_a_market", "reading_stock_prices"


def rows(n: int) -> dict[str, list[tuple]]:
    tables: dict[str, list[tuple]] = {
        k: [] for k in ("learners", "lesson_progress", "completions", "xp_ledger", "badges")
    }
    for i in range(n):
        who = f"telegram:{i}"
        tables["learners"].append((who, f"L{i}", "UTC", True, 1, None, True, None, T0, 3))
        tables["lesson_progress"].append(
            (who, DONE, "1.0.0", "completed", None, "[]", "[]", 1, T0, T0, "1.0.0", T0, "1.0.0", None, 5)
        )
        tables["lesson_progress"].append(
            (
                who,
                READING,
                "1.0.0",
                "in_progress",
                "bid_ask",
                '["intro"]',
                "[]",
                1,
                T0,
                T0,
                None,
                None,
                None,
                None,
                2,
            )
        )
        tables["completions"].append((who, DONE, "1.0.0", 1, 5, 5, 50, T0))
        tables["xp_ledger"].append((who, 50, "lesson completed", f"lesson:{DONE}", DONE, "1.0.0", T0))
        for q in ("q1", "q2", "q3"):
            tables["xp_ledger"].append((who, 10, "correct answer", f"answer:{DONE}:{q}", DONE, "1.0.0", T0))
        tables["badges"].append((who, "first_steps", T0))
    return tables


COLUMNS = {
    "learners": "id, name, time_zone, active, streak_days, last_active_day, freeze_available, freeze_used_on, created_at, revision",
    "lesson_progress": "learner_id, lesson_id, pinned_version, status, current_section, sections_done, answers, attempt, started_at, updated_at, completed_version, completed_at, seen_version, pending_choice, revision",
    "completions": "learner_id, lesson_id, version, attempt, score, total, xp_earned, completed_at",
    "xp_ledger": "learner_id, amount, reason, key, lesson_id, version, awarded_at",
    "badges": "learner_id, badge, awarded_at",
}


def populate_sqlite(path: Path, n: int) -> None:
    import sqlite3

    migrations_api.upgrade(f"sqlite:///{path}")
    connection = sqlite3.connect(path)
    for table, values in rows(n).items():
        marks = ", ".join("?" for _ in values[0])
        connection.executemany(
            f"INSERT INTO {table} ({COLUMNS[table]}) VALUES ({marks})",
            [tuple(str(v) if isinstance(v, dt.datetime) else v for v in row) for row in values],
        )
    connection.commit()
    connection.close()


def populate_postgres(url: str, n: int) -> None:
    migrations_api.upgrade(url)
    engine = make_engine(url)
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        with raw.cursor() as cursor:
            for table, values in rows(n).items():
                with cursor.copy(f"COPY {table} ({COLUMNS[table]}) FROM STDIN") as copy:
                    for row in values:
                        copy.write_row(row)
        raw.commit()
    engine.dispose()


def median(run: Callable[[], object], runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def execute(url: str, sql: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text(sql))
    engine.dispose()


def earn_later(url: str, count: int) -> None:
    execute(
        url,
        f"INSERT INTO xp_ledger (learner_id, amount, reason, key, lesson_id, version, awarded_at) "
        f"SELECT id, 7, 'later', 'later:' || id, NULL, NULL, created_at FROM learners ORDER BY id LIMIT {count}",
    )


def ledger_sum(url: str) -> int:
    engine = make_engine(url)
    with engine.connect() as connection:
        total = int(connection.execute(text("SELECT sum(amount) FROM xp_ledger")).scalar_one())
    engine.dispose()
    return total


def check_doctor(url: str, content: object) -> None:
    report = doctor.run(url, content)
    assert not report.problems, report.problems[:3]
    execute(
        url,
        "UPDATE lesson_progress SET current_section = 'nowhere' WHERE learner_id = 'telegram:42' AND lesson_id = 'reading_stock_prices'",
    )
    found = doctor.run(url, content).problems
    assert [(p.learner, p.check) for p in found] == [("telegram:42", "positions exist")], found
    execute(
        url,
        "UPDATE lesson_progress SET current_section = 'bid_ask' WHERE learner_id = 'telegram:42' AND lesson_id = 'reading_stock_prices'",
    )


def timed_restore(url: str, manifest: snapshots.Manifest, folder: Path, later: int) -> Callable[[], None]:
    def run() -> None:
        earn_later(url, later)
        expected = ledger_sum(url)
        restore.restore(url, manifest.path, folder=folder)
        assert ledger_sum(url) == expected, "restore lost later XP"
        execute(
            url, "DELETE FROM xp_ledger WHERE reason = 'later'"
        )  # back to the snapshot's state for the next run
        for extra in folder.glob("*pre-restore*"):
            extra.unlink()

    return run


def table(lines: list[tuple[str, float, float, str]]) -> None:
    print("| case | median | min | note |\n|---|---:|---:|---|")
    for name, med, low, note in lines:
        print(f"| {name} | {med:.2f} s | {low:.2f} s | {note} |")


def bench_sqlite(n: int, runs: int, content: object, work: Path) -> None:
    path = work / "fiml.db"
    start = time.perf_counter()
    populate_sqlite(path, n)
    print(
        f"\nSQLite: {n:,} learners populated in {time.perf_counter() - start:.1f} s ({path.stat().st_size / 1e6:.0f} MB)"
    )
    url = f"sqlite:///{path}"
    check_doctor(url, content)
    lines = []
    d, dmin = median(lambda: doctor.run(url, content), runs)

    def integrity() -> None:
        import sqlite3

        connection = sqlite3.connect(path)
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        connection.close()

    a, amin = median(integrity, runs)
    lines += [
        (
            "doctor (all checks)",
            d,
            dmin,
            f"goal ≤ 30 s: {'pass' if d <= 30 else 'FAIL'}; {d / a:.2f}× the anchor",
        ),
        ("anchor: PRAGMA integrity_check", a, amin, ""),
    ]
    folder = work / "snaps"
    manifests: list[snapshots.Manifest] = []
    s, smin = median(lambda: manifests.append(snapshots.take(url, folder=folder)), runs)
    b, bmin = median(
        lambda: subprocess.run(["sqlite3", str(path), f".backup {work / 'anchor.db'}"], check=True), runs
    )
    lines += [
        (
            "db snapshot",
            s,
            smin,
            f"{s / b:.2f}× the anchor; {manifests[-1].path.stat().st_size / 1e6:.0f} MB",
        ),
        ("anchor: sqlite3 .backup", b, bmin, ""),
    ]
    r, rmin = median(timed_restore(url, manifests[-1], folder, 1000), runs)
    anchor_copy = work / "anchor-restore.db"
    shutil.copy(path, anchor_copy)
    ar, armin = median(
        lambda: subprocess.run(["sqlite3", str(anchor_copy), f".restore {manifests[-1].path}"], check=True),
        runs,
    )
    lines += [
        (
            "db restore (+1,000 later awards merged)",
            r,
            rmin,
            f"{r / ar:.2f}× the anchor; includes the pre-restore snapshot",
        ),
        ("anchor: sqlite3 .restore", ar, armin, ""),
    ]
    table(lines)


def bench_postgres(base: str, n: int, runs: int, content: object, work: Path) -> None:
    from sqlalchemy.engine import make_url

    parsed = parse_url(base)
    schema = f"fiml_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(parsed, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = parsed.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )
    scratch = f"fiml_bench_restore_{uuid.uuid4().hex[:8]}"
    try:
        start = time.perf_counter()
        populate_postgres(url, n)
        print(f"\nPostgreSQL: {n:,} learners populated in {time.perf_counter() - start:.1f} s")
        check_doctor(url, content)
        lines = []
        d, dmin = median(lambda: doctor.run(url, content), runs)

        def scan() -> None:
            engine = make_engine(url)
            with engine.connect() as connection:
                for t in snapshots.DATA_TABLES:
                    connection.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            engine.dispose()

        a, amin = median(scan, runs)
        lines += [
            ("doctor (all checks)", d, dmin, f"{d / a:.2f}× the anchor"),
            ("anchor: count(*) of every table", a, amin, ""),
        ]
        folder = work / "pg-snaps"
        manifests: list[snapshots.Manifest] = []
        s, smin = median(lambda: manifests.append(snapshots.take(url, folder=folder)), runs)
        env = pgtools.libpq_env(make_url(url))
        dump = work / "anchor.dump"
        b, bmin = median(
            lambda: subprocess.run(
                [pgtools.tool("pg_dump"), "-Fc", f"--schema={schema}", f"--file={dump}"], env=env, check=True
            ),
            runs,
        )
        lines += [
            ("db snapshot", s, smin, f"{s / b:.2f}× the anchor"),
            ("anchor: pg_dump -Fc of the schema", b, bmin, ""),
        ]
        r, rmin = median(timed_restore(url, manifests[-1], folder, 1000), runs)

        def bare_restore() -> None:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
                connection.execute(text(f'CREATE DATABASE "{scratch}"'))
            subprocess.run(
                [pgtools.tool("pg_restore"), "--no-owner", f"--dbname={scratch}", str(dump)],
                env=env,
                check=True,
            )

        ar, armin = median(bare_restore, runs)
        lines += [
            (
                "db restore (+1,000 later awards merged)",
                r,
                rmin,
                f"{r / ar:.2f}× the anchor; includes the pre-restore pg_dump",
            ),
            ("anchor: pg_restore into a new database", ar, armin, ""),
        ]
        table(lines)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            connection.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("FIML_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    print(
        f"machine: {os.cpu_count()} cores ({cpu_model()}), Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )
    content = open_content(BotSettings(content=PROJECT, preview=True))
    work = Path(tempfile.mkdtemp(prefix="fiml-bench-doctor-"))
    try:
        if not args.no_sqlite:
            bench_sqlite(args.learners, args.runs, content, work)
        if not args.no_postgres:
            version = postgres_reachable(args.postgres)
            if version is not None:
                print(f"PostgreSQL {version}, pg_dump {pgtools.client_major('pg_dump')}")
                bench_postgres(args.postgres, args.learners, args.runs, content, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
