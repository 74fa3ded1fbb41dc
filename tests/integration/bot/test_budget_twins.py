"""The send budget's twins are one rule (issue 28): the same sequences of takes and pauses, at the same
instants, through the Python rule, the Redis Lua script (a real redis-server the session starts) and
the SQL store (SQLite and PostgreSQL) give identical answers; and the answers keep the window bound
(no sliding second over the cap) and the chats' gaps."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from fiml_bot.adapters.send_budget import (
    US,
    WINDOW,
    BudgetSettings,
    Decision,
    Priority,
    Slots,
    paused_until,
    sent,
    take,
)

T0 = 1_765_000_000 * US  # an epoch instant in microseconds, as the stores' clocks give them
CHATS = [None, 1, 2, 3, -100]


@dataclass(frozen=True)
class Step:
    """Advance the clock by `after` microseconds, then take (chat, priority), or pause `pause` seconds,
    or (`answer`) tell the budget that the oldest granted send still unanswered got its answer."""

    after: int
    chat: int | None
    priority: Priority
    pause: float | None
    answer: bool = False


Answer = tuple[int, bool, str, int]


steps = st.builds(
    Step,
    after=st.one_of(st.just(0), st.integers(1, 60_000), st.integers(60_000, 1_200_000), st.just(WINDOW)),
    chat=st.sampled_from(CHATS),
    priority=st.sampled_from(list(Priority)),
    pause=st.one_of(st.none(), st.none(), st.none(), st.none(), st.sampled_from([0.5, 1.0, 2.0])),
    answer=st.booleans(),
)


def limits_of(cap: int, reserve: int, burst: int, share: float) -> BudgetSettings:
    reserve = min(reserve, cap - 1)
    return BudgetSettings(
        cap=cap, reserve=reserve, burst=max(reserve + 1, min(burst, cap)), broadcast_share=share
    )


budgets = st.builds(
    limits_of,
    cap=st.integers(1, 5),
    reserve=st.integers(0, 2),
    burst=st.integers(1, 5),
    share=st.sampled_from([0.3, 0.9, 1.0]),
)


def python_answers(sequence: list[Step], limits: BudgetSettings) -> list[Answer]:
    slots: Slots = {}
    now, answers = T0, []
    flight: list[tuple[int | None, Decision]] = []
    for step in sequence:
        now += step.after
        if step.pause is not None:
            slots.update(paused_until(slots, now, step.pause))
            answers.append((-1, False, "", 0))
        elif step.answer and flight:
            chat, granted = flight.pop(0)
            slots.update(sent(slots, now, chat, granted.slot, granted.held, limits))
            answers.append((-2, False, "", 0))
        else:
            decision = take(slots, now, step.chat, step.priority, limits)
            slots.update(decision.changes)
            answers.append((decision.wait, decision.paused, decision.slot, decision.held))
            if decision.wait == 0:
                flight.append((step.chat, decision))
    return answers


async def store_answers(budget: object, sequence: list[Step]) -> list[Answer]:
    now, answers = T0, []
    flight: list[tuple[int | None, Decision]] = []
    for step in sequence:
        now += step.after
        if step.pause is not None:
            await budget.pause(step.pause, now=now)  # type: ignore[attr-defined]
            answers.append((-1, False, "", 0))
        elif step.answer and flight:
            chat, granted = flight.pop(0)
            await budget.sent(chat, granted, now=now)  # type: ignore[attr-defined]
            answers.append((-2, False, "", 0))
        else:
            decision = await budget.take(step.chat, step.priority, now=now)  # type: ignore[attr-defined]
            answers.append((decision.wait, decision.paused, decision.slot, decision.held))
            if decision.wait == 0:
                flight.append((step.chat, decision))
    return answers


def assert_the_bound(sequence: list[Step], answers: list[Answer], limits: BudgetSettings) -> None:
    """Counted grants: at most `cap` in any sliding second; a chat's grants `chat_gap` apart (groups more)."""
    now, counted, chats = T0, [], {}
    for step, (wait, *_rest) in zip(sequence, answers, strict=True):
        now += step.after
        if wait != 0:
            continue
        if step.priority is not Priority.PAID:
            counted.append(now)
        if step.chat is not None:
            gap = limits.chat_gap_us(step.chat)
            assert now - chats.get(step.chat, now - gap) >= gap
            chats[step.chat] = now
    for at in counted:
        assert sum(1 for t in counted if at - WINDOW < t <= at) <= limits.cap


@pytest.fixture(params=["sqlite", "postgres"])
def sql_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    from fiml_bot.storage import migrations_api
    from fiml_bot.storage.database import make_engine

    url = request.getfixturevalue(f"{request.param}_url")
    migrations_api.upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=st.lists(steps, min_size=1, max_size=40), limits=budgets)
def test_python_lua_and_sql_answer_alike(
    redis_url: str, sql_engine: Engine, sequence: list[Step], limits: BudgetSettings
) -> None:
    from fiml_bot.adapters.redis_budget import RedisBudget
    from fiml_bot.adapters.sql_budget import SqlBudget

    key = f"twin-{uuid.uuid4().hex[:12]}"

    async def in_redis() -> list[Answer]:
        budget = RedisBudget(redis_url, key, limits)
        try:
            return await store_answers(budget, sequence)
        finally:
            await budget.close()

    expected = python_answers(sequence, limits)
    assert asyncio.run(in_redis()) == expected
    assert asyncio.run(store_answers(SqlBudget("", key, limits, engine=sql_engine), sequence)) == expected
    assert_the_bound(sequence, expected, limits)


def test_a_repeat_within_a_second_is_where_the_old_script_failed(redis_url: str) -> None:
    """A chat's second take within its gap: the script answers the wait instead of erroring."""
    from fiml_bot.adapters.redis_budget import RedisBudget

    sequence = [Step(0, 5, Priority.REPLY, None), Step(300_000, 5, Priority.REPLY, None)]
    key = f"twin-{uuid.uuid4().hex[:12]}"

    async def go() -> list[Answer]:
        budget = RedisBudget(redis_url, key, BudgetSettings())
        try:
            return await store_answers(budget, sequence)
        finally:
            await budget.close()

    answers = asyncio.run(go())
    assert answers == python_answers(sequence, BudgetSettings())
    assert [a[:2] for a in answers] == [(0, False), (750_000, False)]
