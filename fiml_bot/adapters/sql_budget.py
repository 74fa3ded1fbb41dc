"""The fleet's send budget in the bot's database (PostgreSQL when Redis is not configured).

One short transaction per send: lock the fleet's `all` row (`SELECT ... FOR UPDATE`, with the
database's clock in the same statement), read the other slots, apply `send_budget.take`, upsert
what changed. Every sender locks the same row first, so the rule runs as if atomic. SQLite works
too (`FIML_SEND_BUDGET=database`, for `run` and `notify` on one machine): `BEGIN IMMEDIATE`
serializes the writers and the clock is the host's.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping

from sqlalchemy import Connection, Engine, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from ..storage.database import make_engine
from ..storage.models import SendBudgetRow
from .send_budget import BudgetSettings, Priority, Slot, Slots, chat_slot, paused_until, take

# The Core table from the metadata (typed `Table`; the model's `__table__` is typed as any `FromClause`).
TABLE = SendBudgetRow.metadata.tables[SendBudgetRow.__tablename__]
FLEET_SLOTS = ("broadcast", "paid", "pause", "replies")
PRUNE_EVERY = 1000  # takes between deletions of chat rows that are full again


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

    async def take(self, chat: int | None, priority: Priority) -> float:
        return await asyncio.to_thread(self._take_now, chat, priority)

    async def pause(self, seconds: float) -> None:
        await asyncio.to_thread(self._pause_now, seconds)

    async def close(self) -> None:
        self.engine.dispose()

    def _take_now(self, chat: int | None, priority: Priority) -> float:
        names = [*FLEET_SLOTS]
        chat_name = chat_slot(chat)
        if chat_name is not None:
            names.append(chat_name)
        with self._lock, self.engine.begin() as conn:
            now, slots = self._locked_fleet(conn)
            rows = conn.execute(
                select(TABLE.c.slot, TABLE.c.tokens, TABLE.c.at).where(
                    TABLE.c.budget == self.key, TABLE.c.slot.in_(names)
                )
            )
            slots.update({row.slot: Slot(row.tokens, row.at) for row in rows})
            wait, changes = take(slots, now, chat, priority, self.settings)
            self._write(conn, changes)
            self._takes += 1
            if self._takes % PRUNE_EVERY == 0:
                self._prune(conn, now)
            return wait

    def _pause_now(self, seconds: float) -> None:
        with self._lock, self.engine.begin() as conn:
            now, slots = self._locked_fleet(conn)
            row = conn.execute(
                select(TABLE.c.tokens, TABLE.c.at).where(TABLE.c.budget == self.key, TABLE.c.slot == "pause")
            ).first()
            if row is not None:
                slots["pause"] = Slot(row.tokens, row.at)
            self._write(conn, paused_until(slots, now, seconds))

    def _locked_fleet(self, conn: Connection) -> tuple[float, Slots]:
        """The database's time and the `all` slot, locked until the transaction ends (created if missing)."""
        clock = func.extract("epoch", func.clock_timestamp()) if self._postgres else None
        query = select(TABLE.c.tokens, TABLE.c.at, *([clock] if clock is not None else [])).where(
            TABLE.c.budget == self.key, TABLE.c.slot == "all"
        )
        for _ in range(2):
            row = conn.execute(query.with_for_update()).first()
            if row is not None:
                now = float(row[2]) if self._postgres else time.time()
                return now, {"all": Slot(row.tokens, row.at)}
            now = self._now(conn)
            self._write(conn, {"all": Slot(self.settings.burst, now)}, replace=False)
        raise RuntimeError("the send budget's row vanished while locked")  # pragma: no cover

    def _now(self, conn: Connection) -> float:
        if self._postgres:
            return float(conn.execute(select(func.extract("epoch", func.clock_timestamp()))).scalar_one())
        return time.time()

    def _write(self, conn: Connection, changes: Mapping[str, Slot], *, replace: bool = True) -> None:
        if not changes:
            return
        dialect = postgresql if self._postgres else sqlite
        statement = dialect.insert(TABLE).values(
            [
                {"budget": self.key, "slot": name, "tokens": s.tokens, "at": s.at}
                for name, s in changes.items()
            ]
        )
        if replace:
            statement = statement.on_conflict_do_update(
                index_elements=["budget", "slot"],
                set_={"tokens": statement.excluded.tokens, "at": statement.excluded.at},
            )
        else:
            statement = statement.on_conflict_do_nothing(index_elements=["budget", "slot"])
        conn.execute(statement)

    def _prune(self, conn: Connection, now: float) -> None:
        """Chat buckets idle long enough to be full again carry no information: delete them."""
        s = self.settings
        horizon = max(s.chat_burst / s.chat_per_second, s.group_burst * 60.0 / s.group_per_minute)
        conn.execute(
            delete(TABLE).where(
                TABLE.c.budget == self.key, TABLE.c.slot.like("chat:%"), TABLE.c.at < now - horizon
            )
        )
