"""The fleet's shared Telegram send budget (issue 14): two senders one budget, a 429 pauses both,
replies overtake a broadcast; in process everywhere, on Redis and PostgreSQL where they are reachable."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from telegram.ext import ExtBot

from fiml_bot.adapters.rate_limiter import FleetRateLimiter, counted
from fiml_bot.adapters.send_budget import (
    BudgetConfigError,
    BudgetSettings,
    MemoryBudget,
    Priority,
    SendBudget,
    Slot,
    open_budget,
    store_for,
    take,
)
from testing.fakebotapi import FakeBotApi, FakeBotApiServer, RateLimits

PROJECT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("FIML_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
SETTINGS = BudgetSettings(per_second=40.0, burst=5.0, reserve=2.0)
FAKE_LIMITS = RateLimits(overall_per_second=40.0, overall_burst=8)  # the fake is as strict as the budget


def redis_reachable() -> bool:
    try:
        import redis
    except ImportError:
        return False
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


# ---------------------------------------------------------------------------------------------- the rule


def test_a_reply_takes_what_a_broadcast_must_leave() -> None:
    slots = {"all": Slot(2.5, 0.0)}  # under 1 + reserve: a broadcast waits, a reply goes
    assert take(slots, 0.0, 7, Priority.BROADCAST, SETTINGS)[0] > 0
    wait, changes = take(slots, 0.0, 7, Priority.REPLY, SETTINGS)
    assert (
        wait == 0
        and changes["all"] == Slot(1.5, 0.0)
        and changes["chat:7"] == Slot(SETTINGS.chat_burst - 1, 0.0)
    )


def test_a_waiting_reply_holds_broadcasts_back() -> None:
    slots = {"all": Slot(0.0, 0.0)}
    wait, changes = take(slots, 0.0, 7, Priority.REPLY, SETTINGS)
    assert wait == pytest.approx(1 / 40) and changes["replies"].tokens == pytest.approx(
        1 / 40 + SETTINGS.reply_guard
    )
    later = {"all": Slot(5.0, 0.2), **changes}  # the bucket refilled, but the reply's guard still runs
    assert take(later, 0.2, 8, Priority.BROADCAST, SETTINGS)[0] == pytest.approx(
        changes["replies"].tokens - 0.2
    )


def test_broadcasts_get_at_most_their_share() -> None:
    slots: dict[str, Slot] = {}
    granted, step = 0, 0.00025
    for tick in range(int(10.0 / step)):
        wait, changes = take(slots, tick * step, 1000 + granted, Priority.BROADCAST, SETTINGS)
        slots.update(changes)
        granted += wait == 0
    assert 10 * 40 * 0.8 * 0.99 <= granted <= 10 * 40 * 0.8 + 2


def test_the_per_chat_limit_holds_for_every_priority() -> None:
    budget = MemoryBudget(SETTINGS, clock=lambda: 0.0)
    waits = [asyncio.run(budget.take(5, Priority.REPLY)) for _ in range(4)]
    assert waits[:3] == [0, 0, 0] and waits[3] == pytest.approx(1.0)  # a burst of 3, then 1/s
    group = MemoryBudget(BudgetSettings(burst=20.0), clock=lambda: 0.0)  # the fleet has tokens to spare
    assert [asyncio.run(group.take(-100, Priority.REPLY)) for _ in range(11)][-1] == pytest.approx(
        3.0
    )  # 20/min


def test_a_pause_stops_every_priority() -> None:
    budget = MemoryBudget(SETTINGS, clock=lambda: 10.0)
    asyncio.run(budget.pause(3.0))
    assert [asyncio.run(budget.take(1, p)) for p in Priority] == [3.0, 3.0, 3.0]


def test_what_counts_against_the_budget() -> None:
    assert counted("sendMessage") and counted("editMessageText") and counted("copyMessage")
    assert not counted("answerCallbackQuery") and not counted("sendChatAction") and not counted("getMe")


def test_the_store_comes_from_the_environment() -> None:
    assert store_for({}, "sqlite:///var/fiml.db") == "memory"
    assert store_for({}, "postgresql+psycopg://x@h/db") == "database"
    assert store_for({"FIML_REDIS_URL": "redis://h"}, "postgresql+psycopg://x@h/db") == "redis"
    assert store_for({"FIML_SEND_BUDGET": "database"}, "sqlite:///x.db") == "database"
    with pytest.raises(BudgetConfigError, match="FIML_SEND_BUDGET=redis needs FIML_REDIS_URL"):
        store_for({"FIML_SEND_BUDGET": "redis"}, "sqlite:///x.db")
    with pytest.raises(BudgetConfigError, match="FIML_BROADCAST_SHARE"):
        open_budget("t", "sqlite:///x.db", {"FIML_BROADCAST_SHARE": "lots"})
    with pytest.raises(BudgetConfigError, match="broadcast share must be in"):
        open_budget("t", "sqlite:///x.db", {"FIML_BROADCAST_SHARE": "1.5"})


def test_the_embedded_default_does_not_import_redis_or_sqlalchemy() -> None:
    code = (
        "import sys; from fiml_bot.adapters.send_budget import open_budget, MemoryBudget; "
        "b = open_budget('t', 'sqlite:///x.db', {}); assert isinstance(b, MemoryBudget); "
        "assert 'redis' not in sys.modules and 'sqlalchemy' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PROJECT)


# ---------------------------------------------------------------------------------------------- stores


@pytest.fixture(params=["memory", "redis", "postgres", "sqlite"])
def budgets(request: pytest.FixtureRequest) -> Iterator[Callable[[], SendBudget]]:
    """A factory of budgets that share one store: the same object in process, else new connections."""
    kind = request.param
    key = f"test-{uuid.uuid4().hex[:12]}"
    made: list[SendBudget] = []
    if kind == "memory":
        shared = MemoryBudget(SETTINGS)
        yield lambda: shared
        return
    if kind == "redis":
        if not redis_reachable():
            pytest.skip(f"no Redis at {REDIS_URL}")
        from fiml_bot.adapters.redis_budget import RedisBudget

        def make() -> SendBudget:
            made.append(RedisBudget(REDIS_URL, key, SETTINGS))
            return made[-1]

        yield make
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        client.delete(*client.keys(f"fiml:send-budget:{{{key}}}*") or ["-"])
        client.close()
        return
    url = request.getfixturevalue(
        f"{kind}_url"
    )  # FIML_SEND_BUDGET=database: PostgreSQL, or SQLite on one machine
    from fiml_bot.adapters.sql_budget import SqlBudget
    from fiml_bot.storage import migrations_api

    migrations_api.upgrade(url)

    def make_sql() -> SendBudget:
        made.append(SqlBudget(url, key, SETTINGS))
        return made[-1]

    yield make_sql
    for budget in made:
        asyncio.run(budget.close())


def extbot(fake: FakeBotApi, budget: SendBudget, priority: Priority = Priority.REPLY) -> ExtBot:
    return ExtBot(**fake.bot_kwargs(), rate_limiter=FleetRateLimiter(budget, priority=priority))


def test_two_senders_one_budget(budgets: Callable[[], SendBudget]) -> None:
    fake = FakeBotApi(rate_limits=FAKE_LIMITS)
    each = 30

    async def go() -> float:
        one, two = extbot(fake, budgets()), extbot(fake, budgets())
        async with one, two:
            started = time.monotonic()
            await asyncio.gather(
                *(one.send_message(100 + i, "a") for i in range(each)),
                *(two.send_message(200 + i, "b") for i in range(each)),
            )
            return time.monotonic() - started

    elapsed = asyncio.run(go())
    assert len(fake.calls_to("sendMessage")) == 2 * each and fake.errors(429) == []
    assert elapsed >= (2 * each - SETTINGS.burst) / SETTINGS.per_second * 0.9  # one budget: together at 40/s


def test_a_429_pauses_both_senders(budgets: Callable[[], SendBudget]) -> None:
    fake = FakeBotApi()
    fake.fail_next("sendMessage", error_code=429, retry_after=1)

    async def go() -> None:
        one, two = extbot(fake, budgets()), extbot(fake, budgets())
        async with one, two:
            first = asyncio.create_task(one.send_message(1, "hit the limit"))
            await fake.async_wait_for(lambda: fake.errors(429))
            await asyncio.sleep(0.05)  # the pause is written to the store
            await asyncio.gather(first, two.send_message(2, "from the other sender"))

    asyncio.run(go())
    refused = fake.errors(429)[0].at
    sends = [c for c in fake.calls_to("sendMessage") if c.ok]
    assert len(sends) == 2 and all(c.at - refused >= 1.0 for c in sends)


def test_replies_overtake_a_broadcast(budgets: Callable[[], SendBudget]) -> None:
    """20 replies at once (more than the budget's burst) take as long during a broadcast as without it."""
    fake = FakeBotApi(rate_limits=FAKE_LIMITS)

    async def burst(bot: ExtBot, first_chat: int) -> tuple[float, float]:
        started = time.monotonic()
        await asyncio.gather(*(bot.send_message(first_chat + i, "your answer") for i in range(20)))
        return started, time.monotonic()

    async def go() -> tuple[tuple[float, float], tuple[float, float]]:
        sender, notifier = extbot(fake, budgets()), extbot(fake, budgets(), Priority.BROADCAST)
        async with sender, notifier:
            alone = await burst(sender, 100)
            await asyncio.sleep(0.5)  # the budget fills up again
            broadcast = asyncio.gather(*(notifier.send_message(5000 + i, "news") for i in range(60)))
            await asyncio.sleep(0.6)  # the broadcast runs at its share
            during = await burst(sender, 200)
            await broadcast
            return alone, during

    alone, during = asyncio.run(go())
    assert fake.errors(429) == [] and len(fake.calls_to("sendMessage")) == 100
    assert during[1] - during[0] <= 1.5 * (alone[1] - alone[0]) + 0.15, (alone, during)
    news = [c.at for c in fake.calls_to("sendMessage") if c.params["text"] == "news"]
    before = [at for at in news if at < during[0]]
    share = SETTINGS.per_second * SETTINGS.broadcast_share
    assert len(before) <= share * (during[0] - min(news)) + 2  # never more than its share
    meanwhile = [at for at in news if during[0] <= at <= during[1]]
    assert len(meanwhile) <= max(4, share * (during[1] - during[0])), "replies are not crowded out"


def test_a_store_that_is_down_falls_back_to_this_process(caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("redis")
    from fiml_bot.adapters.redis_budget import RedisBudget

    fake = FakeBotApi()

    async def go() -> None:
        async with extbot(fake, RedisBudget("redis://127.0.0.1:1/0", "down", SETTINGS)) as bot:
            for chat in (1, 2, 3):
                await bot.send_message(chat, "still sent")

    asyncio.run(go())
    assert len(fake.calls_to("sendMessage")) == 3
    assert [r.message for r in caplog.records].count(
        next(m for m in (r.message for r in caplog.records) if "unreachable" in m)
    ) == 1


@pytest.mark.parametrize("store", ["redis", "postgres"])
def test_two_processes_one_budget(store: str, request: pytest.FixtureRequest) -> None:
    """Two real processes, each with its own connection to the store, against a fake as strict as Telegram."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIML_")}
    env.update(FIML_TELEGRAM_RATE="30", PYTHONPATH=str(PROJECT))
    if store == "redis":
        if not redis_reachable():
            pytest.skip(f"no Redis at {REDIS_URL}")
        env["FIML_REDIS_URL"] = REDIS_URL
        import redis

        redis.Redis.from_url(REDIS_URL).delete(
            "fiml:send-budget:{"
            + __import__("fiml_bot.adapters.send_budget", fromlist=["x"]).budget_key(
                "123456789:TEST-fakebotapi-token"
            )
            + "}"
        )
    else:
        from fiml_bot.storage import migrations_api

        url = request.getfixturevalue("postgres_url")
        migrations_api.upgrade(url)
        env["FIML_DATABASE_URL"] = url
    fake = FakeBotApi(rate_limits=RateLimits())  # Telegram's: 30/s per token, 1/s per chat after 5
    each = 45
    with FakeBotApiServer(fake) as server:
        workers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.bot.budget_worker",
                    server.base_url,
                    str(first),
                    str(each),
                    "reply",
                ],
                cwd=PROJECT,
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
            for first in (1000, 2000)
        ]
        results = [json.loads(w.communicate(timeout=60)[0]) for w in workers]
    assert all(w.returncode == 0 for w in workers)
    assert len(fake.calls_to("sendMessage")) == 2 * each and fake.errors(429) == []
    assert max(r["seconds"] for r in results) >= (2 * each - 10) / 30 * 0.9  # shared: 90 messages at 30/s
