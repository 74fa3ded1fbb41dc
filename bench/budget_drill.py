#!/usr/bin/env python3
"""The send budget's drill (issue 28): does the fleet keep Telegram's limits under learners' real rhythm?

Setup, per store (Redis, then PostgreSQL): the fake Bot API at Telegram's documented limits
(`RateLimits()`: 30 in any sliding second per token, 1 a second per chat, 429 + `retry_after` past
them); two `fiml-bot run` webhook replicas on one PostgreSQL schema (and, for Redis, one
`FIML_REDIS_URL`: a redis-server of the drill's own); `--learners` learners (200) who each press the
bot's lesson button (or ask for /lessons) with 1-3 s between a reply and their next action, `--active` (20) of them at a time in
sessions of `--session` presses (about 10 updates a second); their replies' latency is the webhook
POST's round trip (a replica answers once the replies went out).

Phase A: the learners alone for `--phase` seconds. Phase B: the same learners while `fiml-bot notify`
tells `--notify` (2,000) learners about a minor version, until it is done. Goals: 0 answers of 429;
reply p99 in B <= 1.5x the p99 in A; notify during B at >= 80% of what the replies leave of the cap
(cap - the replies' counted messages a second).

Bounded: every wait has a deadline, the phases have fixed lengths, every process is stopped at the end.
Usage: .venv/bin/python -m bench.budget_drill [--store redis,postgres] [--phase 60] [--notify 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.benchlib import cpu_model, postgres_reachable
from bench.telegram_budget import (
    BIN,
    NODELAY,
    NOTICE_MARK,
    SECRET,
    base_env,
    percentile,
    populate,
    process,
    publish_minor,
    wait_until,
)
from fiml_bot.adapters.rate_limiter import counted
from fiml_bot.adapters.send_budget import BudgetSettings
from fiml_bot.content import LessonContent
from fiml_cms.config import load_settings
from testing.fakebotapi import FakeBotApi, FakeBotApiServer, RateLimits
from testing.postgres import postgres_schema
from testing.redis_server import redis_server
from testing.simulation import ContentRepo, git_identity

FIRST_LEARNER = 900000
FIRST_NOTIFIED = 20000
HEADERS = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}


@dataclass
class Learners:
    """The learners' side: who presses what, and how long each reply took, per phase."""

    fake: FakeBotApi
    urls: list[str]
    chats: list[int]
    session: int
    rng: random.Random
    latencies: dict[str, list[float]] = field(default_factory=dict)
    failures: int = 0
    phase: str = "warm-up"
    _next: int = 0

    def update_for(self, chat: int) -> dict[str, Any]:
        """A press of the button that opens the lesson when the bot's last message has one, else
        /lessons (whose answer has it): the learners browse, so their rhythm and the bot's answers
        (one message each) are the same in every phase, however long the drill runs."""
        last = self.fake.last_sent(chat)
        buttons = [d for _, d in (last.buttons if last else []) if d and d.startswith("o|")]
        if last is None or not buttons:
            return self.fake.user_message(chat, "/lessons", enqueue=False)
        return self.fake.callback(chat, last.message_id, self.rng.choice(buttons), enqueue=False)

    async def post(self, client: httpx.AsyncClient, chat: int) -> None:
        update = self.update_for(chat)
        url = self.urls[update["update_id"] % len(self.urls)]
        started = time.perf_counter()
        response = await client.post(url, content=json.dumps(update), headers=HEADERS)
        if response.status_code == 200:
            self.latencies.setdefault(self.phase, []).append(time.perf_counter() - started)
        else:
            self.failures += 1

    async def slot(self, client: httpx.AsyncClient, until: float) -> None:
        """One active learner at a time: a session of presses 1-3 s apart, then the next learner."""
        while time.monotonic() < until:
            chat = self.chats[self._next % len(self.chats)]
            self._next += 1
            for _ in range(self.session):
                if time.monotonic() >= until:
                    return
                await self.post(client, chat)
                await asyncio.sleep(self.rng.uniform(1.0, 3.0))

    async def run(self, active: int, seconds: float) -> None:
        transport = httpx.AsyncHTTPTransport(socket_options=NODELAY, limits=httpx.Limits(max_connections=100))
        async with httpx.AsyncClient(trust_env=False, timeout=60.0, transport=transport) as client:
            until = time.monotonic() + seconds
            await asyncio.gather(*(self.slot(client, until) for _ in range(active)))


def notices_in(fake: FakeBotApi, start: float, end: float) -> int:
    return sum(
        1
        for c in fake.calls_to("sendMessage")
        if c.ok and start <= c.at < end and NOTICE_MARK in str(c.params.get("text", ""))
    )


def counted_in(fake: FakeBotApi, start: float, end: float) -> int:
    with fake._lock:
        calls = list(fake.calls)
    return sum(1 for c in calls if c.ok and counted(c.method) and start <= c.at < end)


def most_in_a_second(fake: FakeBotApi) -> int:
    with fake._lock:
        times = sorted(c.at for c in fake.calls if c.ok and counted(c.method))
    best, left = 0, 0
    for right, at in enumerate(times):
        while times[left] <= at - 1.0:
            left += 1
        best = max(best, right - left + 1)
    return best


def chat_gated(fake: FakeBotApi) -> int:
    """Counted messages sent less than 1.2 s after the previous one to the same chat (a reply of
    several messages: each waits for its chat's 1 s gap)."""
    with fake._lock:
        calls = [c for c in fake.calls if c.ok and counted(c.method)]
    last: dict[Any, float] = {}
    gated = 0
    for c in calls:
        chat = c.params.get("chat_id")
        gated += chat in last and c.at - last[chat] < 1.2
        last[chat] = c.at
    return gated


def scrape(urls: list[str]) -> dict[str, float]:
    """The replicas' 429s and fallbacks, from their /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    totals = {"429": 0.0, "fallbacks": 0.0}
    for url in urls:
        text = httpx.get(url.replace("/hook", "/metrics"), timeout=5.0, trust_env=False).text
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.name == "fiml_telegram_api_errors_total" and s.labels.get("code") == "429":
                    totals["429"] += s.value
                if s.name == "fiml_send_budget_fallbacks_total":
                    totals["fallbacks"] += s.value
    return totals


def drill(args: argparse.Namespace, store: str, folder: Path) -> dict[str, Any]:
    with ExitStack() as stack:
        repo = ContentRepo.create(folder / f"{store}-content")
        content = LessonContent.open(repo.root, load_settings(repo.root))
        url = stack.enter_context(postgres_schema(args.postgres))
        populate(url, content, FIRST_NOTIFIED, args.notify)  # the pressing learners are others: new ones
        ref = publish_minor(repo, content)
        fake = FakeBotApi(rate_limits=RateLimits(), record_calls=True)
        server = stack.enter_context(FakeBotApiServer(fake))
        extra = {"FIML_WEBHOOK_SECRET": SECRET}
        if store == "redis":
            extra["FIML_REDIS_URL"] = stack.enter_context(redis_server())
        env = base_env(server, repo, url, **extra)
        urls = []
        for i in range(2):
            port = args.port + i
            hook = f"http://127.0.0.1:{port}/hook"
            argv = [
                str(BIN / "fiml-bot"),
                "run",
                "--webhook-url",
                hook,
                "--listen",
                "127.0.0.1",
                "--port",
                str(port),
            ]
            stack.enter_context(process(argv, env, folder / f"{store}-replica{i}.log"))
            urls.append(hook)

        def up(u: str) -> bool:
            try:
                return (
                    httpx.get(u.replace("/hook", "/readyz"), timeout=1.0, trust_env=False).status_code == 200
                )
            except httpx.HTTPError:
                return False

        wait_until(lambda: all(up(u) for u in urls), 60, "the replicas to be ready")
        chats = [FIRST_LEARNER + i for i in range(args.learners)]
        learners = Learners(fake, urls, chats, args.session, random.Random(args.seed))
        asyncio.run(learners.run(args.active, 10.0))  # warm-up: every slot's first learner gets /lessons

        learners.phase = "alone"
        a0 = time.monotonic()
        asyncio.run(learners.run(args.active, args.phase))
        a1 = time.monotonic()

        learners.phase = "during"
        log = folder / f"{store}-notify.log"
        with process([str(BIN / "fiml-bot"), "notify", "--since", ref], env, log) as notifier:
            wait_until(lambda: notices_in(fake, a1, time.monotonic()) >= 1, 120, "the broadcast to start")
            b0 = time.monotonic()

            async def during() -> None:
                async def until_notify_is_done() -> None:
                    deadline = time.monotonic() + args.notify / 5 + 120
                    while notifier.poll() is None and time.monotonic() < deadline:
                        await asyncio.sleep(0.2)

                transport = httpx.AsyncHTTPTransport(
                    socket_options=NODELAY, limits=httpx.Limits(max_connections=100)
                )
                async with httpx.AsyncClient(trust_env=False, timeout=60.0, transport=transport) as client:
                    waiter = asyncio.create_task(until_notify_is_done())
                    slots = [
                        asyncio.create_task(learners.slot(client, b0 + args.notify / 5 + 120))
                        for _ in range(args.active)
                    ]
                    await waiter
                    for task in slots:
                        task.cancel()
                    await asyncio.gather(*slots, return_exceptions=True)

            asyncio.run(during())
            b1 = time.monotonic()
            notifier.wait(30)
        metrics = scrape(urls)
        summary = log.read_text(errors="replace").strip().splitlines()[-1]
        cap = BudgetSettings().cap
        replies_b = (counted_in(fake, b0, b1) - notices_in(fake, b0, b1)) / (b1 - b0)
        return {
            "store": store,
            "429": len(fake.errors(429)),
            "most_in_a_second": most_in_a_second(fake),
            "alone": learners.latencies.get("alone", []),
            "during": learners.latencies.get("during", []),
            "replies_alone": counted_in(fake, a0, a1) / (a1 - a0),
            "replies_during": replies_b,
            "notify_rate": notices_in(fake, b0, b1) / (b1 - b0),
            "leftover": cap - replies_b,
            "notices": notices_in(fake, 0.0, time.monotonic()),
            "failures": learners.failures,
            "chat_gated": chat_gated(fake),
            "counted": counted_in(fake, 0.0, time.monotonic()),
            "metrics": metrics,
            "summary": summary,
            "notify_rc": notifier.returncode,
        }


def report(r: dict[str, Any], args: argparse.Namespace) -> bool:
    a99, b99 = 1000 * percentile(r["alone"], 0.99), 1000 * percentile(r["during"], 0.99)
    a50, b50 = 1000 * statistics.median(r["alone"]), 1000 * statistics.median(r["during"])
    share = r["notify_rate"] / r["leftover"] if r["leftover"] > 0 else 0.0
    checks = [r["429"] == 0, b99 <= 1.5 * a99, share >= 0.8, r["failures"] == 0]
    print(
        f"\n### {r['store']}: 2 replicas, {args.learners} learners ({args.active} at a time), notify {args.notify}\n"
    )
    print("| metric | value | goal | result |\n|---|---:|---|---|")
    print(
        f"| answers of 429 (fake) / counted by the replicas | {r['429']} / {r['metrics']['429']:.0f} | 0 | {'pass' if checks[0] else 'fail'} |"
    )
    print(f"| most counted messages in any sliding second | {r['most_in_a_second']} | ≤ 30 | — |")
    print(
        f"| reply p50, alone → during the broadcast | {a50:.0f} → {b50:.0f} ms ({b50 / a50:.2f}×) | — | — |"
    )
    print(
        f"| reply p99, alone → during the broadcast | {a99:.0f} → {b99:.0f} ms ({b99 / a99:.2f}×) | ≤ 1.5× | {'pass' if checks[1] else 'fail'} |"
    )
    print(
        f"| replies' counted messages a second, alone / during | {r['replies_alone']:.1f} / {r['replies_during']:.1f} | — | — |"
    )
    print(
        f"| notify during the load / what the replies leave of the cap | {r['notify_rate']:.1f} / {r['leftover']:.1f} msg/s ({share:.0%}) | ≥ 80% | {'pass' if checks[2] else 'fail'} |"
    )
    print(f"| learners' updates not answered 200 | {r['failures']} | 0 | {'pass' if checks[3] else 'fail'} |")
    print(
        f"| counted messages sent within 1.2 s of the previous to their chat | {r['chat_gated']} of {r['counted']} | — | — |"
    )
    print(f"| send budget fallbacks (replicas' metrics) | {r['metrics']['fallbacks']:.0f} | — | — |")
    print(f"| replies measured, alone / during | {len(r['alone'])} / {len(r['during'])} | — | — |")
    for phase in ("alone", "during"):
        values = r[phase]
        p90, slow = 1000 * percentile(values, 0.9), sum(1 for v in values if v > 0.5)
        print(
            f"| {phase}: reply p90, max; replies over 0.5 s | {p90:.0f}, {1000 * max(values):.0f} ms; {slow} | — | — |"
        )
    print(f"\nnotify (exit {r['notify_rc']}, {r['notices']} notices): {r['summary']}")
    print(
        f"\nload average at the end: {os.getloadavg()[0]:.1f} (the machine is shared: latencies move with it)"
    )
    return all(checks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="redis,postgres", help="comma-separated: redis, postgres")
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--active", type=int, default=20, help="learners pressing at a time")
    parser.add_argument("--session", type=int, default=6, help="presses of a learner's session")
    parser.add_argument("--notify", type=int, default=2000, help="learners the broadcast tells")
    parser.add_argument("--phase", type=float, default=60.0, help="seconds of the learners alone")
    parser.add_argument("--seed", type=int, default=28)
    parser.add_argument("--port", type=int, default=18540)
    parser.add_argument("--logs", help="copy the processes' logs to this folder at the end")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("FIML_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
    )
    args = parser.parse_args(argv)
    if not postgres_reachable(args.postgres):
        print("the drill needs PostgreSQL (--postgres)")
        return 2
    print(
        f"- machine: {platform.system()} {platform.release()}, nproc {os.cpu_count()}, CPU {cpu_model()}, "
        f"Python {platform.python_version()}, load average at the start {os.getloadavg()[0]:.1f}"
    )
    ok = True
    with tempfile.TemporaryDirectory(prefix="fiml-budget-drill-") as folder, git_identity():
        for store in [s.strip() for s in args.store.split(",") if s.strip()]:
            ok = report(drill(args, store, Path(folder)), args) and ok
        if args.logs:
            shutil.copytree(folder, args.logs, dirs_exist_ok=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
