"""Live sections under load (issue 25), through python-telegram-bot's real update processing.

Learners on the fake Bot API open the lesson section with a `live_example` (AAPL quote); the data
comes from the fake provider (`testing/fakeprovider`, Finnhub's shapes) on loopback HTTP.

1. **Provider calls per TTL.** 1,000 learners open the same live section within one minute (their
   arrivals spread over 60 s of the cache's clock, which the bench advances; 8 updates in flight, as
   `fiml-bot run` serves them). Goal: at most 1 provider call per TTL (60 s) per replica. Then 600
   learners over three minutes: one call per minute.
2. **Provider down.** The same update (the "Next" that shows the live section) timed around
   `Application.process_update`, 8 in flight (as `fiml-bot run` serves them), all learners queued at
   once: with the provider up (cached), refusing connections, and hanging (answering after 30 s).
   Goal: p99 with the provider down <= deadline + 10 % (2.2 s).

Only the final update of each learner is timed; walking learners to the section is not.

Usage: .venv/bin/python -m bench.market_data [--learners 1000] [--down 400] [--deadline 2.0]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from telegram import Update

from bench.benchlib import cpu_model
from fiml_bot.adapters.finnhub import Finnhub
from fiml_bot.adapters.telegram import build_application
from fiml_bot.content import LessonContent
from fiml_bot.marketdata.service import MarketData
from fiml_bot.storage import MemoryStorage
from fiml_bot.tutor.engine import Tutor
from fiml_cms.config import load_settings
from testing.fakebotapi import NO_LIMITS, FakeBotApi
from testing.fakeprovider import FakeProvider
from testing.marketdata import add_live_section

PROJECT = Path(__file__).resolve().parent.parent
TTL = 60.0


class Clock:
    """The cache's clock, moved by the bench: arrivals spread over simulated minutes."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Bench:
    def __init__(self, root: Path, provider_url: str, deadline: float, clock: Clock) -> None:
        self.fake = FakeBotApi(rate_limits=NO_LIMITS, record_calls=False)
        self.market = MarketData(Finnhub(provider_url), "OP", ttl=TTL, deadline=deadline, clock=clock)
        content = LessonContent.open(root, load_settings(root), preview=True)
        self.app = build_application(
            Tutor(content, MemoryStorage()),
            self.fake.default_token,
            builder=self.fake.application_builder(),
            rate_limit=False,
            market=self.market,
        )
        self.next_chat = 100_000

    async def process(self, update: dict[str, Any]) -> float:
        started = time.perf_counter()
        await self.app.process_update(Update.de_json(update, self.app.bot))
        return time.perf_counter() - started

    def tap(self, chat: int, label: str) -> dict[str, Any]:
        message = [m for m in self.fake.messages(chat) if m.from_bot and m.buttons][-1]
        data = next(d for t, d in message.buttons if label in t)
        return self.fake.callback(chat, message.message_id, data, enqueue=False)

    async def walk_to_live_section(self, count: int) -> list[int]:
        """`count` new learners, each one "Next" away from the live section (untimed)."""
        chats = list(range(self.next_chat, self.next_chat + count))
        self.next_chat += count

        async def walk(chat: int) -> None:
            await self.process(self.fake.user_message(chat, "/start", enqueue=False))
            for label in ("Lessons", "What Is a Market?", "Next", "Next"):
                await self.process(self.tap(chat, label))

        await in_flight(chats, walk, 8)
        return chats

    async def open_live(
        self, chats: list[int], concurrency: int, clock: Clock | None, span: float
    ) -> list[float]:
        """Each learner presses the "Next" that shows the live section; arrivals spread over `span` s."""
        times: list[float] = []

        async def press(index: int) -> None:
            if clock is not None:
                clock.now = max(clock.now, index * span / len(chats))
            times.append(await self.process(self.tap(chats[index], "Next")))

        await in_flight(list(range(len(chats))), press, concurrency)
        return times


async def in_flight(items: list[Any], work: Any, concurrency: int) -> None:
    """Run `work(item)` for every item, at most `concurrency` at once, in order of arrival."""
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)

    async def worker() -> None:
        while not queue.empty():
            await work(queue.get_nowait())

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def content_copy(folder: Path) -> Path:
    root = folder / "repo"
    shutil.copytree(PROJECT / "content" / "lessons", root / "content" / "lessons")
    shutil.copytree(PROJECT / "content" / "paths", root / "content" / "paths")
    (root / ".fiml-cms.toml").write_text("# bench\n", encoding="utf-8")
    add_live_section(root)
    return root


async def calls_per_ttl(root: Path, learners: int, minutes: int) -> tuple[int, int]:
    """(provider calls, live sections shown) for `learners` arriving over `minutes` simulated minutes."""
    clock = Clock()
    with FakeProvider() as provider:
        provider.accept_keys("OP")
        bench = Bench(root, provider.url, 2.0, clock)
        await bench.app.initialize()
        chats = await bench.walk_to_live_section(learners)
        await bench.open_live(chats, 8, clock, minutes * TTL - 1)
        live = sum(1 for c in chats if "Price:" in bench.fake.sent(c)[-1].text)
        await bench.app.shutdown()
        await bench.market.aclose()
        return len(provider.calls), live


async def latencies(root: Path, learners: int, deadline: float, mode: str) -> tuple[list[float], int]:
    """Timed "Next" updates with the provider `up`, `refusing` or `hanging`; and how many fell back."""
    with FakeProvider() as provider:
        provider.accept_keys("OP")
        url = provider.url
        if mode == "refusing":
            url = "http://127.0.0.1:9"  # the discard port: nothing listens, connections are refused
        elif mode == "hanging":
            provider.set_delay(30.0)
        bench = Bench(root, url, deadline, Clock())
        await bench.app.initialize()
        chats = await bench.walk_to_live_section(learners)
        if mode == "up":
            await bench.open_live(chats[:1], 1, None, 0)  # the first fills the cache
            chats = chats[1:]
        times = await bench.open_live(chats, 8, None, 0)
        fallbacks = sum(1 for c in chats if "Live data is not available" in bench.fake.sent(c)[-1].text)
        await bench.app.shutdown()
        await bench.market.aclose()
        return times, fallbacks


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--learners", type=int, default=1000)
    parser.add_argument("--down", type=int, default=400)
    parser.add_argument("--deadline", type=float, default=2.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(
        f"machine: {cpu_model()}, {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    with tempfile.TemporaryDirectory() as folder:
        root = content_copy(Path(folder))
        calls, live = asyncio.run(calls_per_ttl(root, args.learners, 1))
        verdict = "pass" if calls <= 1 else "FAIL"
        print(
            f"{args.learners} learners in one minute: {calls} provider call(s), {live} live sections [{verdict}]"
        )
        spread = max(args.learners * 6 // 10, 3)
        calls3, live3 = asyncio.run(calls_per_ttl(root, spread, 3))
        print(
            f"{spread} learners over three minutes: {calls3} provider call(s), {live3} live sections [{'pass' if calls3 <= 3 else 'FAIL'}]"
        )
        limit = args.deadline * 1.1
        for mode in ("up", "refusing", "hanging"):
            times, fallbacks = asyncio.run(latencies(root, args.down, args.deadline, mode))
            p50, p99, worst = statistics.median(times), percentile(times, 0.99), max(times)
            goal = "" if mode == "up" else f" [{'pass' if p99 <= limit else 'FAIL'}: p99 <= {limit:.2f} s]"
            print(
                f"provider {mode}: {len(times)} updates, p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
                f"max {worst * 1000:.0f} ms, {fallbacks} fallbacks{goal}"
            )


if __name__ == "__main__":
    main()
