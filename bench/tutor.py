"""Learner actions per second through `Tutor.handle`, beside bare single-row insert transactions.

One run, for each database (a SQLite file; PostgreSQL too when reachable):

| metric | what is timed | goal |
|---|---|---|
| actions/s | `Tutor.handle` for a realistic mix of learner actions (open a lesson from the list, next section, answer a question, type a number), one unit of work (one commit) per action | >= 1,000/s on SQLite |
| baseline tx/s | the same number of bare transactions, each one single-row `INSERT` and a commit (SQLAlchemy Core, on an engine from `make_engine`: the same pragmas as the tutor's) into the same database | - |
| ratio | actions/s / baseline tx/s | - |

The content is a real git repository made from the project's lessons (every lesson tagged 1.0.0),
read through `LessonContent` / `ContentStore`. The learners are scripted: each presses the buttons
of the messages it was sent (Next, an answer, a lesson from the list), answering right 80% of the
time, so the mix is what a learner does. Every timed run uses new learners and a new database; the
tutor and the baseline take turns, run after run, and the medians are reported.

Content lookups must hit the blob-SHA cache on the hot path: `ContentStore._load` (a cache miss:
git + YAML parse) and the lesson parser are counted during the timed runs, after one warm-up run.

If the SQLite goal is missed, or with --profile, a cProfile of one run prints the top 25 functions
by own time.

Usage: .venv/bin/python -m bench.tutor [--actions 3000] [--runs 5] [--learners 50] [--postgres [URL] | --no-postgres] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from importlib import metadata
from pathlib import Path
from typing import Any, Self

from bench.benchlib import cpu_model, postgres_reachable
from fiml_bot.content import LessonContent
from fiml_bot.storage import open_storage
from fiml_bot.storage.database import make_engine
from fiml_bot.tutor.engine import Tutor
from fiml_bot.tutor.events import Event, ListLessons, Pressed, Start, Text
from fiml_bot.tutor.messages import Message
from fiml_cms import store as store_module
from fiml_cms.config import load_settings
from fiml_cms.lesson import MultipleChoiceQuestion, NumericQuestion, TrueFalseQuestion
from testing.postgres import postgres_schema
from testing.simulation import ContentRepo, git_identity

GOAL_SQLITE = 1000.0


# --------------------------------------------------------------------------- machine


def machine() -> list[str]:
    cpu = cpu_model()
    import sqlite3

    packages = ", ".join(
        f"{name} {_version(name)}" for name in ("SQLAlchemy", "psycopg", "alembic", "ruamel.yaml")
    )
    lines = [
        f"- machine: {platform.system()} {platform.release()} {platform.machine()}, nproc {os.cpu_count()}, CPU {cpu}",
        f"- Python {platform.python_version()} ({platform.python_implementation()}), SQLite {sqlite3.sqlite_version}, {packages}",
    ]
    try:
        server = subprocess.run(
            ["psql", "--version"], capture_output=True, text=True, timeout=5, check=False
        ).stdout.strip()
        lines.append(f"- {server}")
    except (OSError, subprocess.SubprocessError):
        pass
    return lines


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


# --------------------------------------------------------------------------- the learners


class Script:
    """Scripted learners: each presses a button of the messages it was last sent."""

    def __init__(self, tutor: Tutor, prefix: str, learners: int, seed: int) -> None:
        self.tutor = tutor
        self.content = tutor.content
        self.rng = random.Random(seed)
        self.ids = [f"{prefix}:{i}" for i in range(learners)]
        self.last: dict[str, list[Message]] = {}
        self.mix: Counter = Counter()
        self.timing = False

    def next_event(self, learner: str) -> tuple[str, Event]:
        last = self.last.get(learner)
        if last is None:
            return "start", Start()
        buttons = [b for m in last for b in m.all_buttons]
        by_kind: dict[str, list[str]] = {}
        for b in buttons:
            by_kind.setdefault(b.data.split("|", 1)[0], []).append(b.data)
        if last and "as a number" in last[-1].text:
            return "answer", Text(self._number(learner))
        if "a" in by_kind:
            return "answer", Pressed(self._answer(by_kind["a"]))
        if "n" in by_kind:
            return "next", Pressed(by_kind["n"][0])
        if "c" in by_kind:
            return "choose", Pressed(self.rng.choice(by_kind["c"]))
        if "o" in by_kind:
            labels = {b.data: b.label for b in buttons}
            usable = [d for d in by_kind["o"] if not labels[d].startswith(("🔒", "✅"))] or by_kind["o"]
            return "open", Pressed(self.rng.choice(usable))
        return "list", ListLessons()

    def _answer(self, options: list[str]) -> str:
        if self.rng.random() < 0.8:
            for data in options:
                _, lesson_id, version, question_id, given = data.split("|")
                lesson = self.content.get(self.content.current_id(lesson_id) or lesson_id, version)
                question = next(q for q in lesson.quiz.questions if q.id == question_id)
                if isinstance(question, MultipleChoiceQuestion) and given == str(question.answer):
                    return data
                if isinstance(question, TrueFalseQuestion) and given == ("t" if question.answer else "f"):
                    return data
        return self.rng.choice(options)

    def _number(self, learner: str) -> str:
        with self.tutor.unit_of_work() as uow:  # outside the timed call: what the learner "knows"
            waiting = [p for p in uow.progress.all_progress(learner) if p.status == "quiz"]
        for progress in sorted(waiting, key=lambda p: p.updated_at, reverse=True):
            lesson = self.content.get(progress.lesson_id, progress.pinned_version)
            done = {a.question_id for a in progress.answers}
            question = next((q for q in lesson.quiz.questions if q.id not in done), None)
            if isinstance(question, NumericQuestion):
                return (
                    f"{question.answer:g}"
                    if self.rng.random() < 0.8
                    else f"{question.answer + question.tolerance + 7:g}"
                )
        return "42"

    def run(self, actions: int) -> float:
        """`actions` learner actions, learners taking turns at random; returns the seconds inside handle."""
        spent = 0.0
        clock = time.perf_counter
        handle = self.tutor.handle
        for _ in range(actions):
            learner = self.rng.choice(self.ids)
            kind, event = self.next_event(learner)
            self.timing = True
            t0 = clock()
            messages = handle(learner, event)
            spent += clock() - t0
            self.timing = False
            self.mix[kind] += 1
            if not messages or any(
                "Something went wrong" in m.text or "can't reach my records" in m.text for m in messages
            ):
                raise SystemExit(f"the tutor failed on {event!r} for {learner}: {[m.text for m in messages]}")
            self.last[learner] = messages
        return spent


# --------------------------------------------------------------------------- cache counters


class Misses:
    """Counts ContentStore cache misses (`_load`) and lesson parses while installed."""

    def __init__(self) -> None:
        self.loads = 0
        self.parses = 0
        self._undo: list[Callable[[], None]] = []

    def __enter__(self) -> Self:
        original_load = store_module.ContentStore._load
        original_parse = store_module._parse_published

        def load(store: Any, lesson_id: str, version: str) -> Any:
            self.loads += 1
            return original_load(store, lesson_id, version)

        def parse(*args: Any, **kwargs: Any) -> Any:
            self.parses += 1
            return original_parse(*args, **kwargs)

        store_module.ContentStore._load = load  # type: ignore[method-assign]
        store_module._parse_published = parse  # type: ignore[assignment]
        self._undo = [
            lambda: setattr(store_module.ContentStore, "_load", original_load),
            lambda: setattr(store_module, "_parse_published", original_parse),
        ]
        return self

    def __exit__(self, *exc: object) -> None:
        for undo in self._undo:
            undo()

    def reset(self) -> None:
        self.loads = self.parses = 0


# --------------------------------------------------------------------------- databases


class Database:
    """Fresh databases of one kind: a new SQLite file, or a new PostgreSQL schema, per run."""

    def __init__(self, kind: str, folder: Path, postgres: str | None, stack: ExitStack) -> None:
        self.kind, self.folder, self.postgres, self.stack = kind, folder, postgres, stack
        self.count = 0

    def fresh(self) -> str:
        self.count += 1
        if self.kind == "sqlite":
            path = self.folder / f"run{self.count}" / "fiml.db"
            path.parent.mkdir(parents=True, exist_ok=True)
            return f"sqlite:///{path}"
        assert self.postgres
        return self.stack.enter_context(postgres_schema(self.postgres))


def baseline(url: str, count: int) -> float:
    """`count` transactions of one single-row INSERT each (SQLAlchemy Core, same engine settings)."""
    from sqlalchemy import Column, Integer, MetaData, String, Table, insert

    engine = make_engine(url)
    meta = MetaData()
    table = Table(
        "bench_baseline",
        meta,
        Column("id", Integer, primary_key=True),
        Column("learner_id", String(64)),
        Column("payload", String(200)),
    )
    meta.create_all(engine)
    statement = insert(table)
    try:
        with engine.begin() as connection:  # warm the pool and the statement cache
            connection.execute(statement, {"learner_id": "warm", "payload": "x"})
        t0 = time.perf_counter()
        for i in range(count):
            with engine.begin() as connection:
                connection.execute(
                    statement, {"learner_id": f"bench:{i % 200}", "payload": "next section pressed"}
                )
        return time.perf_counter() - t0
    finally:
        engine.dispose()


def tutor_run(
    content: LessonContent, url: str, actions: int, learners: int, seed: int, prefix: str
) -> tuple[float, Counter]:
    from sqlalchemy import event

    storage = open_storage(url, auto_upgrade=True)
    statements = Counter()

    def count(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        if script.timing:  # only the tutor's own statements, not the script's look-ups
            statements[statement.split(None, 1)[0].upper()] += 1

    try:
        script = Script(Tutor(content, storage), prefix, learners, seed)
        event.listen(storage.engine, "before_cursor_execute", count)
        spent = script.run(actions)
        script.mix.update({f"sql {k}": n for k, n in statements.items()})
        return spent, script.mix
    finally:
        storage.close()


def profile_run(content: LessonContent, db: Database, actions: int, learners: int) -> str:
    profiler = cProfile.Profile()
    url = db.fresh()
    storage = open_storage(url, auto_upgrade=True)
    try:
        script = Script(Tutor(content, storage), "prof", learners, 99)
        profiler.enable()
        script.run(actions)
        profiler.disable()
    finally:
        storage.close()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
    return out.getvalue()


# --------------------------------------------------------------------------- main


def measure(
    kind: str, content: LessonContent, db: Database, args: argparse.Namespace, misses: Misses
) -> dict[str, Any]:
    # warm-up: every lesson version the script touches gets parsed once (cold misses), engines connect
    tutor_run(content, db.fresh(), min(args.actions, 1500), args.learners, 7, "warm")
    misses.reset()
    rates, base_rates, mix = [], [], Counter()
    for run in range(args.runs):
        order = ["tutor", "baseline"] if run % 2 == 0 else ["baseline", "tutor"]
        for what in order:
            url = db.fresh()
            if what == "tutor":
                spent, run_mix = tutor_run(content, url, args.actions, args.learners, 1000 + run, f"run{run}")
                rates.append(args.actions / spent)
                mix += run_mix
            else:
                base_rates.append(args.actions / baseline(url, args.actions))
    actions_s, baseline_s = statistics.median(rates), statistics.median(base_rates)
    return {
        "kind": kind,
        "actions_s": actions_s,
        "baseline_s": baseline_s,
        "ratio": actions_s / baseline_s,
        "rates": rates,
        "base_rates": base_rates,
        "mix": mix,
        "loads": misses.loads,
        "parses": misses.parses,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--actions",
        type=int,
        default=3000,
        help="learner actions per timed run (and as many baseline transactions)",
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--learners",
        type=int,
        default=50,
        help="learners sharing the actions (about 60 actions each by default: whole lessons)",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("FIML_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument(
        "--profile", action="store_true", help="print a cProfile of one SQLite run whatever the result"
    )
    parser.add_argument("--out", type=Path, help="work folder (default: a temporary one, removed afterwards)")
    args = parser.parse_args(argv)

    folder = args.out or Path(tempfile.mkdtemp(prefix="fiml-bench-tutor-"))
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    with ExitStack() as stack, git_identity():
        repo = ContentRepo.create(folder)
        misses = stack.enter_context(Misses())
        content = LessonContent.open(repo.root, load_settings(repo.root))
        kinds = ["sqlite"]
        if not args.no_postgres and postgres_reachable(args.postgres):
            kinds.append("postgres")
        for kind in kinds:
            db = Database(kind, folder / kind, args.postgres, stack)
            results.append(measure(kind, content, db, args, misses))
        profile = None
        sqlite_ok = results[0]["actions_s"] >= GOAL_SQLITE
        if args.profile or not sqlite_ok:
            profile = profile_run(
                content, Database("sqlite", folder / "profile", None, stack), args.actions, args.learners
            )

    print(
        f"# Tutor actions per second ({args.actions} actions per run, {args.runs} runs, {args.learners} learners, medians)\n"
    )
    print(
        "| database | actions/s (Tutor.handle, 1 commit each) | baseline tx/s (1-row INSERT + commit) | ratio | goal | result |"
    )
    print("|---|---|---|---|---|---|")
    for r in results:
        goal = f">= {GOAL_SQLITE:,.0f} actions/s" if r["kind"] == "sqlite" else "-"
        verdict = ("PASS" if r["actions_s"] >= GOAL_SQLITE else "FAIL") if r["kind"] == "sqlite" else "-"
        print(
            f"| {r['kind']} | {r['actions_s']:,.0f} | {r['baseline_s']:,.0f} | {r['ratio']:.2f} | {goal} | {verdict} |"
        )
    print()
    for r in results:
        kinds = Counter({k: n for k, n in r["mix"].items() if not k.startswith("sql ")})
        sql = Counter({k[4:]: n for k, n in r["mix"].items() if k.startswith("sql ")})
        total = sum(kinds.values())
        mix = ", ".join(f"{k} {100 * n / total:.0f}%" for k, n in kinds.most_common())
        mix += (
            f"; SQL statements per action: {sum(sql.values()) / total:.1f} ("
            + ", ".join(f"{k} {n / total:.1f}" for k, n in sql.most_common())
            + ")"
        )
        print(
            f"- {r['kind']}: runs {', '.join(f'{x:,.0f}' for x in r['rates'])} actions/s; baseline {', '.join(f'{x:,.0f}' for x in r['base_rates'])} tx/s"
        )
        print(f"  mix: {mix}")
        print(
            f"  content cache on the hot path (timed runs, after one warm-up): {r['loads']} ContentStore._load misses, {r['parses']} lesson parses"
        )
    print()
    print("\n".join(machine()))
    if profile:
        print("\n## cProfile, one SQLite run, top 25 by own time\n")
        print(profile)
    if not args.out:
        shutil.rmtree(folder, ignore_errors=True)
    cache_ok = all(r["loads"] == 0 and r["parses"] == 0 for r in results)
    return 0 if results[0]["actions_s"] >= GOAL_SQLITE and cache_ok else 1


if __name__ == "__main__":
    sys.exit(main())
