"""The fleet's send budget in the bot's database (PostgreSQL when Redis is not configured).

One short transaction per send: lock the budget's `lock` row (`SELECT ... FOR UPDATE`, with the
database's clock in the same statement), read the slots the rule needs, apply `send_budget.take`,
upsert what changed. Every sender locks the same row first, so the rule runs as if atomic. SQLite
works too (`FIML_SEND_BUDGET=database`, for `run` and `notify` on one machine): SQLite serializes
the writers and the clock is the host's. A slot's time (integer microseconds) is kept in `at`;
`tokens` is unused since the window rule (issue 28) and written 0.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

from sqlalchemy import Connection, Engine, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import InterfaceError, OperationalError

from ..storage.database import make_engine
from ..storage.models import SendBudgetRow
from .send_budget import (
    HEARTBEAT_HORIZON,
    BudgetSettings,
    BudgetUnreachable,
    Decision,
    Priority,
    Slots,
    chat_slot,
    live_senders,
    micros,
    paused_until,
    sent,
    take,
    window_slots,
)

# The Core table from the metadata (typed `Table`; the model's `__table__` is typed as any `FromClause`).
TABLE = SendBudgetRow.metadata.tables[SendBudgetRow.__tablename__]
FLEET_SLOTS = ("pause", "replies", "b", "p", "g")
LOCK = "lock"
PRUNE_EVERY = 1000  # takes between deletions of chat rows whose next send is due already
T = TypeVar("T")


def _answer(step: Callable[[], T]) -> T:
    """`step`'s result; a database that does not answer becomes `BudgetUnreachable` (an outage)."""
    try:
        return step()
    except (OperationalError, InterfaceError) as exc:
        raise BudgetUnreachable(f"the database: {exc.orig or exc}") from exc


class SqlBudget:
    """`SendBudget` in the `send_budget` table (migration 0005)."""

    def __init__(
        self, url: str, key: str, settings: BudgetSettings | None = None, engine: Engine | None = None
    ) -> None:
        self.settings = settings or BudgetSettings()
        self.key = key
        self.engine = engine or make_engine(url)
        self._postgres = self.engine.dialect.name == "postgresql"
        self._takes = 0
        self._lock = threading.Lock()  # one transaction at a time per process: they all queue on one row

    async def take(self, chat: int | None, priority: Priority, now: int | None = None) -> Decision:
        """`now`: the database's clock unless given (tests drive the store through chosen times)."""
        return await asyncio.to_thread(_answer, lambda: self._take_now(chat, priority, now))

    async def pause(self, seconds: float, now: int | None = None) -> None:
        await asyncio.to_thread(_answer, lambda: self._pause_now(seconds, now))

    async def sent(self, chat: int | None, decision: Decision, now: int | None = None) -> None:
        await asyncio.to_thread(_answer, lambda: self._sent_now(chat, decision, now))

    async def heartbeat(self, sender: str, now: int | None = None) -> int:
        return await asyncio.to_thread(_answer, lambda: self._heartbeat_now(sender, now))

    async def close(self) -> None:
        self.engine.dispose()

    def _take_now(self, chat: int | None, priority: Priority, given: int | None) -> Decision:
        names = [*FLEET_SLOTS, *window_slots(self.settings)]
        chat_name = chat_slot(chat)
        if chat_name is not None:
            names.append(chat_name)
        with self._lock, self.engine.begin() as conn:
            now = self._locked(conn)
            now = now if given is None else given
            slots = self._read(conn, names)
            decision = take(slots, now, chat, priority, self.settings)
            self._write(conn, decision.changes)
            self._takes += 1
            if self._takes % PRUNE_EVERY == 0:
                conn.execute(
                    delete(TABLE).where(
                        TABLE.c.budget == self.key, TABLE.c.slot.like("chat:%"), TABLE.c.at <= now
                    )
                )
            return decision

    def _pause_now(self, seconds: float, given: int | None) -> None:
        with self._lock, self.engine.begin() as conn:
            now = self._locked(conn)
            now = now if given is None else given
            self._write(conn, paused_until(self._read(conn, ["pause"]), now, seconds))

    def _sent_now(self, chat: int | None, decision: Decision, given: int | None) -> None:
        chat_name = chat_slot(chat)
        names = [n for n in (decision.slot, chat_name) if n]
        if not names:
            return
        with self._lock, self.engine.begin() as conn:
            now = self._locked(conn)
            now = now if given is None else given
            changes = sent(self._read(conn, names), now, chat, decision.slot, decision.held, self.settings)
            self._write(conn, changes)

    def _heartbeat_now(self, sender: str, given: int | None) -> int:
        with self._lock, self.engine.begin() as conn:
            now = self._now(conn) if given is None else given
            self._write(conn, {f"sender:{sender}": now})
            conn.execute(
                delete(TABLE).where(
                    TABLE.c.budget == self.key,
                    TABLE.c.slot.like("sender:%"),
                    TABLE.c.at <= now - micros(HEARTBEAT_HORIZON),
                )
            )
            rows = conn.execute(
                select(TABLE.c.slot, TABLE.c.at).where(
                    TABLE.c.budget == self.key, TABLE.c.slot.like("sender:%")
                )
            )
            return live_senders({row.slot: int(row.at) for row in rows}, now, HEARTBEAT_HORIZON)

    def _read(self, conn: Connection, names: list[str]) -> Slots:
        rows = conn.execute(
            select(TABLE.c.slot, TABLE.c.at).where(TABLE.c.budget == self.key, TABLE.c.slot.in_(names))
        )
        return {row.slot: int(row.at) for row in rows}

    def _locked(self, conn: Connection) -> int:
        """The database's time, with the budget's `lock` row locked until the transaction ends."""
        clock = self._clock_expression()
        query = select(TABLE.c.at, *([clock] if clock is not None else [])).where(
            TABLE.c.budget == self.key, TABLE.c.slot == LOCK
        )
        for _ in range(2):
            row = conn.execute(query.with_for_update()).first()
            if row is not None:
                return int(row[1]) if self._postgres else time.time_ns() // 1000
            self._write(conn, {LOCK: 0}, replace=False)
        raise RuntimeError("the send budget's lock row vanished while locked")  # pragma: no cover

    def _clock_expression(self):
        if not self._postgres:
            return None
        return func.floor(func.extract("epoch", func.clock_timestamp()) * 1_000_000)

    def _now(self, conn: Connection) -> int:
        clock = self._clock_expression()
        if clock is None:
            return time.time_ns() // 1000
        return int(conn.execute(select(clock)).scalar_one())

    def _write(self, conn: Connection, changes: Mapping[str, int], *, replace: bool = True) -> None:
        if not changes:
            return
        dialect = postgresql if self._postgres else sqlite
        statement = dialect.insert(TABLE).values(
            [
                {"budget": self.key, "slot": name, "tokens": 0.0, "at": float(at)}
                for name, at in changes.items()
            ]
        )
        if replace:
            statement = statement.on_conflict_do_update(
                index_elements=["budget", "slot"], set_={"at": statement.excluded.at}
            )
        else:
            statement = statement.on_conflict_do_nothing(index_elements=["budget", "slot"])
        conn.execute(statement)
