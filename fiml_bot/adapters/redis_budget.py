"""The fleet's send budget in Redis: `send_budget.take` as one Lua script, atomic across processes.

The only module that imports `redis` (and only when `FIML_REDIS_URL` chose it). Keys:
`fiml:send-budget:{<token digest>}` is a hash of the fleet's slots (integer microseconds, the same
names as `send_budget.take`'s); `...:next:<id>` holds a chat's next send and expires a minute after
it; `...:senders` is a sorted set of the senders' heartbeats. The hash tag `{...}` keeps them in one
Redis Cluster slot. Times are Redis's own clock (`TIME`); a test may pass its own `now` instead, to
drive the script and the Python rule through the same sequence (tests/integration/bot/test_budget_twins.py).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import redis.asyncio as redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .send_budget import HEARTBEAT_HORIZON, BudgetSettings, BudgetUnreachable, Decision, Priority, micros

_CLOCK = """
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function n(v) return tonumber(v) or 0 end
"""

# ARGV: now|'', priority, cap, reserve, chat gap, reply guard, broadcast gap, paid gap (microseconds),
# burst, spacing, hold (microseconds). Answers {wait, paused} or, granted, {0, 0, log slot, held}.
TAKE = (
    _CLOCK
    + """
local fleet, chatkey = KEYS[1], KEYS[2]
local priority = ARGV[2]
local cap, reserve = tonumber(ARGV[3]), tonumber(ARGV[4])
local chat_gap, guard, bgap, pgap = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local burst, spacing, hold = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
local fields = {'pause', 'replies', 'b', 'p', 'g'}
for i = 0, cap - 1 do fields[#fields + 1] = 'w:' .. i end
local v = redis.call('HMGET', fleet, unpack(fields))
local pause, replies, bdue, pdue, tat = n(v[1]), n(v[2]), n(v[3]), n(v[4]), n(v[5])
if pause > now then return {pause - now, 1} end
local writes = {}
local chat_due = nil
if chatkey ~= '' then
  local due = n(redis.call('GET', chatkey))
  if due > now then return {due - now, 0} end
  chat_due = now + chat_gap
end
-- the window's log: returns 0 and the field to overwrite, or the wait
local function window(limit)
  local young = {}
  local free = nil
  for i = 0, cap - 1 do
    local at = v[6 + i]
    if at and tonumber(at) > now - 1000000 then
      young[#young + 1] = tonumber(at)
    elseif not free then
      free = 'w:' .. i
    end
  end
  if #young >= limit then
    table.sort(young)
    return young[#young - limit + 1] + 1000000 - now, nil
  end
  return 0, free
end
-- the fleet's pace (GCRA): 0 and the next 'g', or the wait
local function pace(headroom)
  local allowance = (burst - 1 - headroom) * spacing
  if tat - allowance > now then return tat - allowance - now, nil end
  return 0, math.max(tat, now) + spacing
end
local function hold_broadcasts(wait)
  redis.call('HSET', fleet, 'replies', string.format('%.0f', math.max(replies, now + math.min(wait, 1000000) + guard)))
  redis.call('PEXPIRE', fleet, 86400000)
  return {wait, 0}
end
if priority == 'reply' then
  local wait, free = window(cap)
  if not free then return hold_broadcasts(wait) end
  local pwait, nexttat = pace(0)
  if not nexttat then return hold_broadcasts(pwait) end
  writes = {free, now + hold, 'g', nexttat}
elseif priority == 'broadcast' then
  if replies > now then return {replies - now, 0} end
  if bdue > now then return {bdue - now, 0} end
  local wait, free = window(cap - reserve)
  if not free then return {wait, 0} end
  local pwait, nexttat = pace(reserve)
  if not nexttat then return {pwait, 0} end
  writes = {free, now + hold, 'g', nexttat, 'b', math.max(bdue, now - bgap) + bgap}
else
  if pdue > now then return {pdue - now, 0} end
  writes = {'p', now + pgap}
end
local granted = {0, 0}
if priority == 'reply' or priority == 'broadcast' then granted = {0, 0, writes[1], writes[2]} end
for i = 2, #writes, 2 do writes[i] = string.format('%.0f', writes[i]) end
redis.call('HSET', fleet, unpack(writes))
redis.call('PEXPIRE', fleet, 86400000)
if chat_due then
  redis.call('SET', chatkey, string.format('%.0f', chat_due), 'PX', math.floor((chat_due - now) / 1000) + 60000)
end
return granted
"""
)

PAUSE = (
    _CLOCK
    + """
local until_ = now + tonumber(ARGV[2])
if until_ > n(redis.call('HGET', KEYS[1], 'pause')) then
  redis.call('HSET', KEYS[1], 'pause', string.format('%.0f', until_))
end
redis.call('PEXPIRE', KEYS[1], 86400000)
return 0
"""
)

# KEYS: fleet, chat key or ''; ARGV: now|'', log slot or '', held, chat gap (microseconds).
SENT = (
    _CLOCK
    + """
if ARGV[2] ~= '' then
  local current = redis.call('HGET', KEYS[1], ARGV[2])
  if current and tonumber(current) == tonumber(ARGV[3]) then
    redis.call('HSET', KEYS[1], ARGV[2], string.format('%.0f', now))
  end
end
if KEYS[2] ~= '' then
  local due = math.max(n(redis.call('GET', KEYS[2])), now + tonumber(ARGV[4]))
  redis.call('SET', KEYS[2], string.format('%.0f', due), 'PX', math.floor((due - now) / 1000) + 60000)
end
return 0
"""
)

HEARTBEAT = (
    _CLOCK
    + """
redis.call('ZADD', KEYS[1], now, ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[3]))
redis.call('PEXPIRE', KEYS[1], 86400000)
return redis.call('ZCARD', KEYS[1])
"""
)


class RedisBudget:
    """`SendBudget` on a Redis server: one EVALSHA round trip per send."""

    def __init__(self, url: str, key: str, settings: BudgetSettings | None = None) -> None:
        self.settings = settings or BudgetSettings()
        self.fleet_key = f"fiml:send-budget:{{{key}}}"
        self._client = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self._take = self._client.register_script(TAKE)
        self._pause = self._client.register_script(PAUSE)
        self._heartbeat = self._client.register_script(HEARTBEAT)
        self._sent = self._client.register_script(SENT)

    def _chat_key(self, chat: int | None) -> str:
        return f"{self.fleet_key}:next:{chat}" if chat is not None else ""

    async def take(self, chat: int | None, priority: Priority, now: int | None = None) -> Decision:
        """`now`: the store's clock unless given (tests drive the script through chosen times)."""
        s = self.settings
        answer = await _answer(
            self._take(
                keys=[self.fleet_key, self._chat_key(chat)],
                args=[
                    "" if now is None else now,
                    priority.value,
                    s.cap,
                    s.reserve,
                    s.chat_gap_us(chat) if chat is not None else 0,
                    micros(s.reply_guard),
                    s.broadcast_gap_us(),
                    s.paid_gap_us(),
                    s.burst,
                    s.spacing_us(),
                    micros(s.hold),
                ],
            )
        )
        if len(answer) > 2:
            slot = answer[2].decode() if isinstance(answer[2], bytes) else str(answer[2])
            return Decision(0, False, {}, slot, int(answer[3]))
        return Decision(int(answer[0]), bool(answer[1]), {})

    async def sent(self, chat: int | None, decision: Decision, now: int | None = None) -> None:
        gap = self.settings.chat_gap_us(chat) if chat is not None else 0
        await _answer(
            self._sent(
                keys=[self.fleet_key, self._chat_key(chat)],
                args=["" if now is None else now, decision.slot, decision.held, gap],
            )
        )

    async def pause(self, seconds: float, now: int | None = None) -> None:
        await _answer(self._pause(keys=[self.fleet_key], args=["" if now is None else now, micros(seconds)]))

    async def heartbeat(self, sender: str, now: int | None = None) -> int:
        beats = self._heartbeat(
            keys=[f"{self.fleet_key}:senders"],
            args=["" if now is None else now, sender, micros(HEARTBEAT_HORIZON)],
        )
        return int(await _answer(beats))

    async def close(self) -> None:
        await self._client.aclose()


async def _answer(call: Awaitable[Any]) -> Any:
    """The script's answer; a lost or refused connection becomes `BudgetUnreachable` (an outage), while
    a script or protocol error stays what it is (a bug, logged as one)."""
    try:
        return await call
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        raise BudgetUnreachable(f"Redis: {exc}") from exc
