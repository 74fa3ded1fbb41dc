"""The fleet's shared Telegram send budget (issues 14, 28): no sliding second over the cap, a chat at
most once a second, a 429 pauses every sender, replies overtake a broadcast; in process, on Redis (a
server the session starts) and on PostgreSQL/SQLite, against the fake at Telegram's own limits."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from telegram.error import BadRequest
from telegram.ext import ExtBot

from fiml_bot.adapters.rate_limiter import FleetRateLimiter, counted
from fiml_bot.adapters.send_budget import (
    US,
    BudgetConfigError,
    BudgetSettings,
    Decision,
    MemoryBudget,
    Priority,
    SendBudget,
    budget_key,
    open_budget,
    sent,
    settings_from_env,
    store_for,
    take,
)
from testing.fakebotapi import DEFAULT_TOKEN, NO_LIMITS, Call, FakeBotApi, FakeBotApiServer, RateLimits
from testing.repo import PROJECT

SETTINGS = BudgetSettings(cap=10, reserve=2)  # a small cap: the window's edge is reached in a second
TELEGRAM = RateLimits()  # the fake at Telegram's documented limits
# Telegram's limits scaled to SETTINGS: 2 over the cap for the jitter between a grant and its arrival,
# as Telegram's 30 is over the default cap of 28; per chat and group, Telegram's own.
FAKE_LIMITS = RateLimits(overall_per_second=SETTINGS.cap + 2)


def most_in_a_second(calls: list[Call]) -> int:
    """The largest number of accepted sends in any sliding second (as the fake counts them)."""
    times = sorted(c.at for c in calls if c.ok)
    return max((sum(1 for t in times if s - 1.0 < t <= s) for s in times), default=0)


# ---------------------------------------------------------------------------------------------- the rule


def answered(
    slots: dict[str, int], now: int, chat: int | None, priority: Priority, settings: BudgetSettings
) -> Decision:
    """A take whose send, when granted, is answered at once (`sent` at the same instant)."""
    decision = take(slots, now, chat, priority, settings)
    slots.update(decision.changes)
    if decision.wait == 0:
        slots.update(sent(slots, now, chat, decision.slot, decision.held, settings))
    return decision


def grants(priorities: list[Priority], now: int, slots: dict[str, int], chat0: int = 1000) -> list[int]:
    waits = []
    for i, priority in enumerate(priorities):
        decision = answered(slots, now, chat0 + i, priority, SETTINGS)
        waits.append(decision.wait)
    return waits


def test_the_cap_holds_in_any_second_and_the_burst_is_inside_it() -> None:
    """Replies asking every millisecond: `burst` at once, then paced at the cap, never more in a second."""
    slots: dict[str, int] = {}
    granted = []
    for now in range(0, 3 * US, 1000):
        for _ in range(SETTINGS.burst):  # several replies ask at each instant
            decision = answered(slots, now, 1000 + len(granted), Priority.REPLY, SETTINGS)
            if decision.wait == 0:
                granted.append(now)
    assert (
        granted[: SETTINGS.burst] == [0] * SETTINGS.burst and granted[SETTINGS.burst] == SETTINGS.spacing_us()
    )
    assert all(sum(1 for t in granted if at - US < t <= at) <= SETTINGS.cap for at in granted)
    assert 3 * SETTINGS.cap - 1 <= len(granted) <= 3 * SETTINGS.cap  # the cap a second, sustained


def test_a_broadcast_leaves_the_reserve_to_replies() -> None:
    slots: dict[str, int] = {}
    now, granted = 0, 0
    while now < US:  # a broadcast alone, asking every millisecond for a second
        decision = answered(slots, now, 5000 + granted, Priority.BROADCAST, SETTINGS)
        granted += decision.wait == 0
        now += 1000
    assert granted == SETTINGS.cap - SETTINGS.reserve  # paced at the share, and never the reserve
    last = now - 1000
    assert grants([Priority.REPLY] * 3, last, slots) == [0, 0, US - last]  # the reserve, then the edge


def test_a_send_counts_from_its_answer_and_in_flight_until_then() -> None:
    """Telegram counts a message when it arrives, after its turn was granted: the window counts each
    send from its answer (at the latest when Telegram saw it), and until the answer, for `hold`."""
    one = BudgetSettings(cap=1, reserve=0, burst=1)
    slots: dict[str, int] = {}
    first = take(slots, 0, 1, Priority.REPLY, one)
    slots.update(first.changes)
    assert first.wait == 0 and slots[first.slot] == first.held == one.hold * US
    assert take(slots, 5 * US, 2, Priority.REPLY, one).wait == first.held + US - 5 * US  # in flight
    slots.update(sent(slots, 300_000, 1, first.slot, first.held, one))  # answered 0.3 s after the turn
    assert take(slots, US, 2, Priority.REPLY, one).wait == 300_000  # a second after the answer
    assert slots["chat:1"] == 300_000 + one.chat_gap_us(1)  # the chat's gap runs from the answer too
    assert take(slots, 1_300_000, 2, Priority.REPLY, one).wait == 0


def test_a_waiting_reply_holds_broadcasts_back() -> None:
    slots: dict[str, int] = {}
    assert grants([Priority.REPLY] * SETTINGS.burst, 0, slots) == [0] * SETTINGS.burst
    decision = take(slots, 1000, 7, Priority.REPLY, SETTINGS)  # the burst is spent: the pace
    assert decision.wait == SETTINGS.spacing_us() - 1000
    assert decision.changes["replies"] == SETTINGS.spacing_us() + SETTINGS.reply_guard * US
    slots.update(decision.changes)
    at = SETTINGS.spacing_us() + 1000  # the pace allows a send again, the guard still runs
    later = take(slots, at, 8, Priority.BROADCAST, SETTINGS)
    assert later.wait == slots["replies"] - at > 0


@pytest.mark.parametrize("settings", [BudgetSettings(), SETTINGS])
def test_broadcasts_are_paced_at_their_share(settings: BudgetSettings) -> None:
    """At the share of the cap (default 25.2 of 28 a second), or what the reserve leaves if less."""
    slots: dict[str, int] = {}
    granted, step = 0, 250
    for tick in range(10 * US // step):
        decision = answered(slots, tick * step, 100000 + granted, Priority.BROADCAST, settings)
        granted += decision.wait == 0
    pace = min(settings.cap * settings.broadcast_share, settings.cap - settings.reserve)
    assert 10 * pace - 1 <= granted <= 10 * pace + 1


def test_a_chat_gets_one_message_a_second_a_group_twenty_a_minute() -> None:
    for priority in (Priority.REPLY, Priority.BROADCAST, Priority.PAID):
        slots: dict[str, int] = {}
        first = take(slots, 0, 5, priority, SETTINGS)
        slots.update(first.changes)
        second = take(slots, 0, 5, priority, SETTINGS)
        assert first.wait == 0 and second.wait == round(SETTINGS.chat_gap * US), priority
    slots = {}
    now, sent = 0, []
    while now < 60 * US:
        decision = answered(slots, now, -100, Priority.REPLY, BudgetSettings())
        if decision.wait == 0:
            sent.append(now)
        now += US // 10
    assert len(sent) <= 20 and all(b - a >= 3 * US for a, b in itertools.pairwise(sent))


def test_a_pause_stops_every_priority() -> None:
    budget = MemoryBudget(SETTINGS, clock=lambda: 10 * US)
    asyncio.run(budget.pause(3.0))
    answers = [asyncio.run(budget.take(1, p)) for p in Priority]
    assert [(d.wait, d.paused) for d in answers] == [(3 * US, True)] * 3


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
    with pytest.raises(BudgetConfigError, match="whole number"):
        settings_from_env({"FIML_TELEGRAM_RATE": "27.5"})
    assert settings_from_env({}).cap == 28 and settings_from_env({"FIML_TELEGRAM_RATE": "20"}).cap == 20


def test_the_embedded_default_does_not_import_redis_or_sqlalchemy() -> None:
    code = (
        "import sys; from fiml_bot.adapters.send_budget import open_budget, MemoryBudget; "
        "b = open_budget('t', 'sqlite:///x.db', {}); assert isinstance(b, MemoryBudget); "
        "assert 'redis' not in sys.modules and 'sqlalchemy' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PROJECT)


# ---------------------------------------------------------------------------------------------- stores


STORES = ["memory", "redis", "postgres", "sqlite"]


@pytest.fixture(params=STORES)
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
        from fiml_bot.adapters.redis_budget import RedisBudget

        url = request.getfixturevalue("redis_url")

        def make() -> SendBudget:
            made.append(RedisBudget(url, key, SETTINGS))
            return made[-1]

        yield make
        return
    url = request.getfixturevalue(f"{kind}_url")  # FIML_SEND_BUDGET=database: PostgreSQL, or SQLite
    from fiml_bot.adapters.sql_budget import SqlBudget
    from fiml_bot.storage import migrations_api

    migrations_api.upgrade(url)

    def make_sql() -> SendBudget:
        made.append(SqlBudget(url, key, SETTINGS))
        return made[-1]

    yield make_sql
    for budget in made:
        asyncio.run(budget.close())


class Recorded:
    """The limiter's metrics, recorded."""

    def __init__(self) -> None:
        self.fallbacks: list[str] = []

    def telegram_error(self, method: str, code: str) -> None:
        return None

    def send_budget_fallback(self, reason: str) -> None:
        self.fallbacks.append(reason)


def extbot(fake: FakeBotApi, budget: SendBudget, priority: Priority = Priority.REPLY, **kw: object) -> ExtBot:
    return ExtBot(**fake.bot_kwargs(), rate_limiter=FleetRateLimiter(budget, priority=priority, **kw))  # type: ignore[arg-type]


def test_two_senders_one_budget(budgets: Callable[[], SendBudget]) -> None:
    """16 sends from two senders under a cap of 10: one window's worth at once, the rest a second later."""
    fake = FakeBotApi(rate_limits=FAKE_LIMITS)
    each = 8

    async def go() -> None:
        one, two = extbot(fake, budgets()), extbot(fake, budgets())
        async with one, two:
            await asyncio.gather(
                *(one.send_message(100 + i, "a") for i in range(each)),
                *(two.send_message(200 + i, "b") for i in range(each)),
            )

    asyncio.run(go())
    sends = fake.calls_to("sendMessage")
    assert len(sends) == 2 * each and fake.errors(429) == [] and most_in_a_second(sends) > SETTINGS.cap // 2
    # the fake's records: no second held all 16, the 11th send waited for the first to leave the window
    assert most_in_a_second(sends) < len(sends)


def test_several_messages_to_one_chat(budgets: Callable[[], SendBudget]) -> None:
    """Issue 21 item 12: the Redis script failed on a chat's second message; every store spaces them."""
    fake = FakeBotApi(rate_limits=TELEGRAM)
    recorded = Recorded()

    async def go() -> None:
        one = extbot(fake, budgets(), metrics=recorded)
        two = extbot(fake, budgets(), Priority.BROADCAST, metrics=recorded)
        async with one, two:
            await asyncio.gather(one.send_message(7, "first"), two.send_message(7, "second"))
            await one.send_message(7, "third")

    asyncio.run(go())
    sends = [c for c in fake.calls_to("sendMessage") if c.ok]
    assert len(sends) == 3 and fake.errors(429) == [] and recorded.fallbacks == []  # the store answered
    gaps = [b.at - a.at for a, b in itertools.pairwise(sends)]
    assert all(gap >= 1.0 for gap in gaps), gaps


def test_a_429_pauses_both_senders(budgets: Callable[[], SendBudget]) -> None:
    fake = FakeBotApi(rate_limits=NO_LIMITS)
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


def test_a_lone_sender_pauses_and_its_waiting_sends_resume_spread_out() -> None:
    """One process, no shared store: a 429 holds every queued send, which then resume at random instants."""
    fake = FakeBotApi(rate_limits=NO_LIMITS)
    fake.fail_next("sendMessage", error_code=429, retry_after=1)

    class Counts:
        def __init__(self) -> None:
            self.errors: list[tuple[str, str]] = []

        def telegram_error(self, method: str, code: str) -> None:
            self.errors.append((method, code))

        def send_budget_fallback(self, reason: str) -> None:
            raise AssertionError(reason)

    counts = Counts()

    async def go() -> FleetRateLimiter:
        bot = extbot(fake, MemoryBudget(SETTINGS), metrics=counts)
        async with bot:
            first = asyncio.create_task(bot.send_message(1, "hit the limit"))
            await fake.async_wait_for(lambda: fake.errors(429))
            await asyncio.gather(first, *(bot.send_message(10 + i, "queued") for i in range(6)))
            return bot.rate_limiter  # type: ignore[return-value]

    limiter = asyncio.run(go())
    refused = fake.errors(429)[0].at
    sends = sorted(c.at for c in fake.calls_to("sendMessage") if c.ok)
    assert len(sends) == 7 and all(at - refused >= 1.0 for at in sends)
    assert sends[-1] - sends[0] > 0.05  # spread over the jitter, not one instant
    assert limiter.retries == 1 and counts.errors == [("sendMessage", "429")]


def test_replies_overtake_a_broadcast(budgets: Callable[[], SendBudget]) -> None:
    """8 replies at once take as long during a broadcast as without it (the broadcast keeps the reserve)."""
    fake = FakeBotApi(rate_limits=FAKE_LIMITS)

    async def burst(bot: ExtBot, first_chat: int) -> None:
        await asyncio.gather(*(bot.send_message(first_chat + i, "your answer") for i in range(8)))

    async def go() -> None:
        sender, notifier = extbot(fake, budgets()), extbot(fake, budgets(), Priority.BROADCAST)
        async with sender, notifier:
            await burst(sender, 100)
            await asyncio.sleep(1.0)  # the window empties
            broadcast = asyncio.gather(*(notifier.send_message(5000 + i, "news") for i in range(24)))
            await asyncio.sleep(1.2)  # the broadcast runs at its share
            await burst(sender, 200)
            await broadcast

    asyncio.run(go())
    sends = fake.calls_to("sendMessage")
    assert fake.errors(429) == [] and len(sends) == 40
    news = [c.at for c in sends if c.params["text"] == "news"]
    alone = [c.at for c in sends if c.params["text"] == "your answer" and int(c.params["chat_id"]) < 200]
    during = [c.at for c in sends if c.params["text"] == "your answer" and int(c.params["chat_id"]) >= 200]
    assert all(sum(1 for t in news if s - 1.0 < t <= s) <= SETTINGS.cap - SETTINGS.reserve + 1 for s in news)
    # from the fake's records, not the test's clock: the replies' spread during the broadcast
    assert max(during) - min(during) <= 1.5 * (max(alone) - min(alone)) + 1.0, (alone, during)
    assert len(during) == 8


def test_a_store_that_is_down_falls_back_to_this_processs_share(caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("redis")
    from fiml_bot.adapters.redis_budget import RedisBudget

    fake = FakeBotApi(
        rate_limits=RateLimits(overall_per_second=SETTINGS.cap // 2 + 1)
    )  # the share, +1 of margin
    recorded = Recorded()

    async def go() -> FleetRateLimiter:
        budget = RedisBudget("redis://127.0.0.1:1/0", "down", SETTINGS)
        async with extbot(fake, budget, metrics=recorded) as bot:
            await asyncio.gather(*(bot.send_message(chat, "still sent") for chat in range(1, 8)))
            return bot.rate_limiter  # type: ignore[return-value]

    caplog.set_level(logging.ERROR, "fiml_bot.rate_limit")
    limiter = asyncio.run(go())
    sends = fake.calls_to("sendMessage")
    assert len(sends) == 7 and fake.errors(429) == []  # never knew the fleet: assumes two senders
    answered = sorted(call.at for call in sends)  # its share, 5 a second: no 6 sends within one second
    assert answered[5] - answered[0] >= 0.95 and limiter.fallbacks >= 7
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and "unreachable" in messages[0] and "at most 5 a second" in messages[0]
    assert set(recorded.fallbacks) == {"unreachable"}


def test_a_script_error_is_logged_as_a_bug_not_an_outage(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    import redis

    from fiml_bot.adapters.redis_budget import RedisBudget

    key = f"test-{uuid.uuid4().hex[:12]}"
    client = redis.Redis.from_url(redis_url)
    client.set(f"fiml:send-budget:{{{key}}}", "not a hash")  # the script's HMGET fails: WRONGTYPE
    client.close()
    fake = FakeBotApi(rate_limits=NO_LIMITS)
    recorded = Recorded()

    async def go() -> None:
        async with extbot(fake, RedisBudget(redis_url, key, SETTINGS), metrics=recorded) as bot:
            for chat in (1, 2, 3):
                await bot.send_message(chat, "still sent")

    caplog.set_level(logging.ERROR, "fiml_bot.rate_limit")
    asyncio.run(go())
    assert len(fake.calls_to("sendMessage")) == 3 and recorded.fallbacks[:1] == ["error"]
    bugs = [r for r in caplog.records if r.getMessage().startswith("bug:")]
    assert (
        len(bugs) == 1
        and "WRONGTYPE" in bugs[0].getMessage()
        and not any("unreachable" in r.getMessage() for r in caplog.records)
    )


def test_heartbeats_count_the_live_senders(budgets: Callable[[], SendBudget]) -> None:
    async def go() -> list[int]:
        one, two = budgets(), budgets()
        return [await one.heartbeat("a"), await two.heartbeat("b"), await one.heartbeat("a")]

    counts = asyncio.run(go())
    assert counts in ([1, 1, 1], [1, 2, 2])  # in process a budget is its own fleet


@pytest.mark.parametrize("store", ["redis", "postgres"])
def test_two_processes_one_budget(store: str, request: pytest.FixtureRequest) -> None:
    """Two real processes, each with its own connection to the store, against the fake at Telegram's limits."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIML_")}
    env.update(FIML_TELEGRAM_RATE="28", PYTHONPATH=str(PROJECT))
    if store == "redis":
        url = request.getfixturevalue("redis_url")
        env["FIML_REDIS_URL"] = url
        import redis

        client = redis.Redis.from_url(url)
        client.delete(f"fiml:send-budget:{{{budget_key(DEFAULT_TOKEN)}}}")
        client.close()
    else:
        from fiml_bot.storage import migrations_api

        url = request.getfixturevalue("postgres_url")
        migrations_api.upgrade(url)
        env["FIML_DATABASE_URL"] = url
    fake = FakeBotApi(rate_limits=TELEGRAM)
    each = 40
    with FakeBotApiServer(fake) as server:
        workers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "testing.budget_worker",
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
    assert sum(r["sent"] for r in results) == 2 * each
    sends = fake.calls_to("sendMessage")
    assert len(sends) == 2 * each and fake.errors(429) == []
    assert most_in_a_second(sends) <= 28 + 2  # shared: 28 in any second (+2 of jitter), not 28 each


def test_every_429_is_counted_in_the_bots_metrics() -> None:
    """The limiter retries a 429 itself; `fiml_telegram_api_errors_total{code="429"}` still sees it."""
    from prometheus_client.parser import text_string_to_metric_families

    from fiml_bot.adapters.telegram import build_application
    from fiml_bot.ops.metrics import BotMetrics

    def value(text: str, name: str, **labels: str) -> float:
        return sum(
            s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        )

    metrics = BotMetrics()
    before = metrics.exposition().decode()
    assert 'fiml_telegram_api_errors_total{code="429",method="sendMessage"} 0.0' in before  # exported at 0
    fake = FakeBotApi(rate_limits=NO_LIMITS)
    fake.fail_next("sendMessage", times=2, error_code=429, retry_after=1)
    app = build_application(
        object(),  # type: ignore[arg-type]  # no update is processed: only the bot's sends
        fake.default_token,
        builder=fake.application_builder(),
        metrics=metrics,
        budget=MemoryBudget(SETTINGS),
    )

    async def go() -> None:
        async with app:
            await app.bot.send_message(9, "after two 429s")

    asyncio.run(go())
    text = metrics.exposition().decode()
    assert len(fake.sent(9)) == 1
    assert value(text, "fiml_telegram_api_errors_total", method="sendMessage", code="429") == 2
    assert value(text, "fiml_send_budget_fallbacks_total") == 0


def test_the_limiter_tells_the_budget_each_answer() -> None:
    """After the sends, no slot of the window is still held as in flight: each counts from its answer."""
    fake = FakeBotApi(rate_limits=TELEGRAM)
    budget = MemoryBudget(SETTINGS)

    async def go() -> None:
        async with extbot(fake, budget) as bot:
            await asyncio.gather(*(bot.send_message(50 + i, "hello") for i in range(1, 4)))
            fake.fail_next("sendMessage", error_code=400)  # an answer all the same
            with pytest.raises(BadRequest):
                await bot.send_message(50, "refused")

    asyncio.run(go())
    window = {n: at for n, at in budget._slots.items() if n.startswith("w:")}
    assert len(window) == 4 and all(at <= budget.clock() for at in window.values())
