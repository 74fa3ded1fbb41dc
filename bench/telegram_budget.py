#!/usr/bin/env python3
"""CPU per update of `fiml-bot run` against a minimal PTB echo bot (issue 14), with real processes.

The fleet half of this bench (two replicas + `notify` against the fake) moved to
`bench/budget_drill.py` (issue 28), which measures it at Telegram's real limits and the learners'
real rhythm; the helpers both use (`populate`, `process`, ...) stay here.

**CPU per update**: `fiml-bot run` (polling, SQLite, the in-process budget) vs a minimal PTB echo
bot (polling) on the same fake and load: 200 learners × 3 rounds = 600 updates; CPU seconds of the
bot process (utime + stime from /proc) over the rounds, divided by the updates. Also a latency probe
(updates one at a time, enqueue to reply). Done with 1,000 and 100,000 learners in the database.

Bounded: every wait has a deadline, every process is stopped at the end.
Usage: .venv/bin/python -m bench.telegram_budget [--sizes 1000,100000] [--runs 3] [--profile]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from bench.benchlib import cpu_model
from fiml_bot.content import LessonContent
from fiml_bot.storage import open_storage
from fiml_bot.storage.database import make_engine
from fiml_bot.storage.models import Base
from fiml_bot.tutor.callbacks import encode
from fiml_bot.tutor.engine import Tutor
from fiml_bot.tutor.events import Pressed, Start
from fiml_cms.config import load_settings
from testing.fakebotapi import DEFAULT_TOKEN, NO_LIMITS, FakeBotApi, FakeBotApiServer
from testing.simulation import ContentRepo, git_identity

PROJECT = Path(__file__).resolve().parent.parent

BIN = Path(sys.executable).parent
SECRET = "bench-secret"
NODELAY = [
    (6, 1, 1)
]  # IPPROTO_TCP, TCP_NODELAY: httpx writes a POST's headers and body apart (Nagle + delayed ACK)
LESSON = "what_is_a_market"
NOTICE_MARK = "is out: version"
ECHO_BOT = """
import sys
from telegram.ext import ApplicationBuilder, MessageHandler, filters
async def echo(update, context):
    await update.effective_message.reply_text(update.effective_message.text)
app = ApplicationBuilder().token(sys.argv[1]).base_url(sys.argv[2]).build()
app.add_handler(MessageHandler(filters.TEXT, echo))
app.run_polling()
"""
# The same echo bot for the bot's own load (/lessons, then two button presses): a press is answered
# the simplest correct way, answerCallbackQuery (Telegram's clients spin until it comes) + one message.
ECHO_PRESSES_BOT = ECHO_BOT.replace(
    "MessageHandler, filters", "MessageHandler, CallbackQueryHandler, filters"
).replace(
    "app.run_polling()",
    """async def pressed(update, context):
    await update.callback_query.answer()
    await update.effective_message.reply_text(update.callback_query.data)
app.add_handler(CallbackQueryHandler(pressed))
app.run_polling()""",
)


PROFILED_RUN = """
import cProfile, os, signal, sys, time
from fiml_bot.cli import app
profile = cProfile.Profile(time.thread_time)
signal.signal(signal.SIGUSR1, lambda *_: profile.enable())  # the rounds only: start-up is not per update
def dump(*_):
    profile.disable()
    profile.dump_stats(sys.argv[1] + ".part")
    os.replace(sys.argv[1] + ".part", sys.argv[1])
signal.signal(signal.SIGUSR2, dump)
app(["run"], standalone_mode=False)
"""


# ---------------------------------------------------------------------------------------------- helpers


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds per thread name ("main" for the event loop's, else the thread's comm)."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            name = "main" if task.name == str(pid) else "worker threads"
        except OSError:
            continue
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.01)


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT)
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def base_env(server: FakeBotApiServer, repo: ContentRepo, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIML_")}
    env.update(
        FIML_TELEGRAM_TOKEN=DEFAULT_TOKEN,
        FIML_TELEGRAM_API_URL=server.base_url,
        FIML_CONTENT_REPO=str(repo.root),
        FIML_DATABASE_URL=database_url,
        PYTHONPATH=str(PROJECT),
        **extra,
    )
    return env


def populate(url: str, content: LessonContent, first: int, count: int) -> None:
    """`count` learners telegram:<first..> who opened LESSON: one made by the tutor, the rest copies of its rows."""
    storage = open_storage(url, auto_upgrade=True)
    tutor = Tutor(content, storage)
    template = f"telegram:{first}"
    tutor.handle(template, Start())
    tutor.handle(template, Pressed(encode("o", LESSON)))
    close = getattr(storage, "close", None)
    if close:
        close()
    engine = make_engine(url)
    with engine.begin() as conn:
        for table in Base.metadata.sorted_tables:
            column = "id" if table.name == "learners" else "learner_id" if "learner_id" in table.c else None
            if column is None:
                continue
            rows = [dict(r._mapping) for r in conn.execute(select(table).where(table.c[column] == template))]
            autoincrement = [
                c.name
                for c in table.primary_key.columns
                if c.autoincrement is True or (c.name == "id" and column != "id")
            ]
            for start in range(1, count, 20000):
                batch = []
                for i in range(start, min(count, start + 20000)):
                    for row in rows:
                        copy = {k: v for k, v in row.items() if k not in autoincrement}
                        copy[column] = f"telegram:{first + i}"
                        batch.append(copy)
                if batch:
                    conn.execute(insert(table), batch)
    engine.dispose()


def publish_minor(repo: ContentRepo, content: LessonContent) -> str:
    ref = repo.git("rev-parse", "HEAD").strip()
    repo.cms("bump", LESSON, "minor", "-m", "Benchmark notice", "--commit", "--tag")
    content.refresh()
    return ref


# ---------------------------------------------------------------------------------------------- 2. CPU per update


def replies_since(fake: FakeBotApi, index: int) -> set[int]:
    with fake._lock:
        calls = fake.calls[index:]
    return {c.params.get("chat_id") for c in calls if c.ok and c.method in ("sendMessage", "editMessageText")}


def rounds(fake: FakeBotApi, chats: list[int], kind: str) -> int:
    """Three rounds of one update per learner; each round waits for every learner's reply.

    `echo`: three texts. `bot` and `echo-presses`: /lessons, then two presses of the button that
    opens a lesson or goes on (the echo bot's own last message carries no button: the same data is
    pressed on it)."""
    sent = 0
    for round_ in range(3):
        index = len(fake.calls)
        for chat in chats:
            if kind == "echo":
                fake.user_message(chat, f"hello {round_}")
            elif kind == "echo-presses" and round_ > 0:
                fake.callback(chat, fake.last_sent(chat).message_id, encode("o", LESSON))
            elif round_ == 0:
                fake.user_message(chat, "/lessons")
            else:
                buttons = fake.last_buttons(chat)
                data = (
                    next((d for _, d in buttons if d and d.startswith(("o|", "n|"))), None)
                    if buttons
                    else None
                )
                if data is None:
                    fake.user_message(chat, "/lessons")
                else:
                    fake.callback(chat, fake.last_sent(chat).message_id, data)
            sent += 1
        wait_until(lambda: replies_since(fake, index) >= set(chats), 120, f"round {round_ + 1}'s replies")
    return sent


def probe(fake: FakeBotApi, chats: list[int], echo: bool) -> list[float]:
    latencies = []
    for chat in chats:
        index = len(fake.calls)
        started = time.perf_counter()
        fake.user_message(chat, "hello" if echo else "/progress")
        wait_until(lambda: chat in replies_since(fake, index), 30, "a probe's reply")
        latencies.append(time.perf_counter() - started)
    return latencies


def cpu_case(
    args: argparse.Namespace,
    folder: Path,
    repo: ContentRepo,
    content: LessonContent,
    learners: int,
    kind: str,
    run: int,
    profile: Path | None = None,
) -> dict[str, float]:
    fake = FakeBotApi(rate_limits=NO_LIMITS, record_calls=True)
    echo = kind != "bot"
    name = f"{kind}-{learners}-{run}"
    db = folder / f"{name}.db"
    url = f"sqlite:///{db}"
    if not echo:
        populate(url, content, 3000000, learners)
    chats = [3000000 + i for i in range(args.learners)]  # the active learners are among those in the database
    with FakeBotApiServer(fake) as server:
        env = base_env(server, repo, url, FIML_TELEGRAM_RATE="1000")  # CPU, not pacing, is measured here
        argv = (
            [
                sys.executable,
                "-c",
                ECHO_BOT if kind == "echo" else ECHO_PRESSES_BOT,
                DEFAULT_TOKEN,
                server.base_url,
            ]
            if echo
            else [str(BIN / "fiml-bot"), "run"]
        )
        if (
            profile is not None
        ):  # the event loop's thread, by its own CPU time (the tutor's threads are counted apart)
            argv = [sys.executable, "-c", PROFILED_RUN, str(profile)]
        with process(argv, env, folder / f"{name}.log") as proc:
            wait_until(lambda: len(fake.calls_to("getUpdates")) >= 2, 60, "the bot to poll")
            time.sleep(0.5)
            if profile is not None:
                proc.send_signal(signal.SIGUSR1)
            cpu0, t0, threads0 = cpu_seconds(proc.pid), time.perf_counter(), thread_cpu(proc.pid)
            updates = rounds(fake, chats, kind)
            cpu1, t1, threads1 = cpu_seconds(proc.pid), time.perf_counter(), thread_cpu(proc.pid)
            if profile is not None:
                proc.send_signal(signal.SIGUSR2)
                wait_until(profile.exists, 30, "the profile")
            worker_ms = (
                1000 * (threads1.get("worker threads", 0.0) - threads0.get("worker threads", 0.0)) / updates
            )
            latencies = probe(fake, chats[: args.probe], echo)
        hook = webhook_probe(args, folder, server, repo, url, chats, name) if not echo else [0.0]
    return {
        "hook_p50_ms": 1000 * statistics.median(hook),
        "hook_p99_ms": 1000 * percentile(hook, 0.99),
        "cpu_ms": 1000 * (cpu1 - cpu0) / updates,
        "worker_ms": worker_ms,
        "wall_ms": 1000 * (t1 - t0) / updates,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * percentile(latencies, 0.99),
    }


def webhook_probe(
    args: argparse.Namespace,
    folder: Path,
    server: FakeBotApiServer,
    repo: ContentRepo,
    url: str,
    chats: list[int],
    name: str,
) -> list[float]:
    """The same database behind a webhook replica: `/progress` POSTed one at a time; each round trip."""
    import httpx

    port = 18460
    hook = f"http://127.0.0.1:{port}/hook"
    env = base_env(server, repo, url, FIML_WEBHOOK_SECRET=SECRET, FIML_TELEGRAM_RATE="1000")
    argv = [str(BIN / "fiml-bot"), "run", "--webhook-url", hook, "--listen", "127.0.0.1", "--port", str(port)]
    latencies = []
    transport = httpx.HTTPTransport(socket_options=NODELAY)
    with (
        process(argv, env, folder / f"{name}-webhook.log"),
        httpx.Client(trust_env=False, timeout=30.0, transport=transport) as client,
    ):

        def ready() -> bool:
            try:
                return client.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, 60, "the webhook replica")
        headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}
        for n in range(args.probe * 2):
            chat = chats[n % len(chats)]
            update = {
                "update_id": 5 * 10**8 + n,
                "message": {
                    "message_id": 5 * 10**8 + n,
                    "date": int(time.time()),
                    "text": "/progress",
                    "chat": {"id": chat, "type": "private"},
                    "from": {"id": chat, "is_bot": False, "first_name": "L"},
                    "entities": [{"type": "bot_command", "offset": 0, "length": 9}],
                },
            }
            started = time.perf_counter()
            if client.post(hook, content=json.dumps(update), headers=headers).status_code != 200:
                raise RuntimeError("a probe update was not answered 200")
            if n >= args.probe // 2:  # the first ones warm the replica up
                latencies.append(time.perf_counter() - started)
    return latencies


def cpu(args: argparse.Namespace, folder: Path) -> dict[str, dict[str, float]]:
    repo = ContentRepo.create(folder / "cpu-content")
    content = LessonContent.open(repo.root, load_settings(repo.root))
    results: dict[str, list[dict[str, float]]] = {}
    for run in range(args.runs):  # interleaved, so a slow minute of the shared machine hits every case
        cases = [("echo", 0, "echo"), ("echo, the bot's load (presses)", 0, "echo-presses")]
        cases += [(f"bot, {n:,} learners", n, "bot") for n in args.sizes]
        for label, learners, kind in cases:
            results.setdefault(label, []).append(cpu_case(args, folder, repo, content, learners, kind, run))
    return {
        label: {k: statistics.median(r[k] for r in rows) for k in rows[0]} for label, rows in results.items()
    }


def where_cpu_goes(args: argparse.Namespace, folder: Path) -> list[tuple[str, float, float]]:
    """One profiled `fiml-bot run` on the CPU load: the event loop's own time per package over the
    rounds (start-up excluded), largest first: (package, share, ms per update at the profiler's pace)."""
    import pstats

    repo = ContentRepo.create(folder / "profile-content")
    content = LessonContent.open(repo.root, load_settings(repo.root))
    out = folder / "run.prof"
    cpu_case(args, folder, repo, content, 1000, "bot", 99, profile=out)
    shutil.copy(out, "/tmp/i14-run.prof")
    stats = pstats.Stats(str(out))
    by_package: dict[str, float] = {}
    for (filename, _, _), (_, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        parts = Path(filename).parts
        if "site-packages" in parts:
            name = parts[parts.index("site-packages") + 1]
        elif "fiml_bot" in parts or "fiml_cms" in parts:
            name = "/".join(parts[parts.index("fiml_bot" if "fiml_bot" in parts else "fiml_cms") :][:2])
        elif filename.startswith("<") or filename == "~":
            name = "builtins (C)"
        else:
            name = "stdlib/" + Path(filename).stem
        by_package[name] = by_package.get(name, 0.0) + own
    total, updates = sum(by_package.values()), 3 * args.learners
    ranked = sorted(by_package.items(), key=lambda kv: -kv[1])[:15]
    return [(name, seconds / total, 1000 * seconds / updates) for name, seconds in ranked]


# ---------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--learners", type=int, default=200, help="active learners in the CPU runs (3 updates each)"
    )
    parser.add_argument("--probe", type=int, default=50, help="updates of the latency probe")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1000, 100000],
        help="learners in the database of the CPU runs' bot cases (default 1000,100000)",
    )
    parser.add_argument("--profile", action="store_true", help="only: where the CPU of `fiml-bot run` goes")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="fiml-bench-budget-"))
    print(
        f"- machine: {platform.system()} {platform.release()}, nproc {os.cpu_count()}, CPU {cpu_model()}, Python {platform.python_version()}"
    )
    try:
        with git_identity():
            if args.profile:
                print(
                    "| package | share of the event loop's CPU | ms per update (profiled) |\n|---|---:|---:|"
                )
                for name, share, ms in where_cpu_goes(args, folder):
                    print(f"| {name} | {share:.1%} | {ms:.2f} |")
                return 0
            rows = cpu(args, folder)
            echo, same_load = rows["echo"], rows["echo, the bot's load (presses)"]
            print(f"\n## CPU per update: {args.learners} learners × 3 updates, {args.runs} runs, medians\n")
            print(
                "| case | CPU ms/update | of it in worker threads (tutor) | ratio to the text echo (earlier anchor) | ratio to echo on the same load (goal ≤ 3×) | wall ms/update | polling probe p50 / p99 ms | webhook reply p50 / p99 ms |"
            )
            print("|---|---:|---:|---:|---:|---:|---:|---:|")
            for label, row in rows.items():
                hook = f"{row['hook_p50_ms']:.1f} / {row['hook_p99_ms']:.1f}" if row["hook_p50_ms"] else "—"
                print(
                    f"| {label} | {row['cpu_ms']:.2f} | {row['worker_ms']:.2f} | {row['cpu_ms'] / echo['cpu_ms']:.2f}× | {row['cpu_ms'] / same_load['cpu_ms']:.2f}× | {row['wall_ms']:.2f} | "
                    f"{row['p50_ms']:.1f} / {row['p99_ms']:.1f} | {hook} |"
                )
            if len(args.sizes) < 2:
                return 0
            small, big = (
                rows[f"bot, {args.sizes[0]:,} learners"],
                rows[f"bot, {args.sizes[-1]:,} learners"],
            )
            print(
                f"\n{args.sizes[-1]:,} vs {args.sizes[0]:,} learners: CPU/update {big['cpu_ms'] / small['cpu_ms'] - 1:+.1%}, "
                f"webhook reply p50 {big['hook_p50_ms'] / small['hook_p50_ms'] - 1:+.1%}, p99 {big['hook_p99_ms'] / small['hook_p99_ms'] - 1:+.1%}"
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
