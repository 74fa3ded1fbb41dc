"""The fleet's send budget in Redis: `send_budget.take` as one Lua script, atomic across processes.

The only module that imports `redis` (and only when `FIML_REDIS_URL` chose it). Keys:
`fiml:send-budget:{<token digest>}` is a hash of the fleet's slots (`<slot>` = tokens, `<slot>@` =
time); `...:chat:<id>` a hash per chat that expires once its bucket would be full again. The hash
tag `{...}` keeps both in one Redis Cluster slot. Times are Redis's own clock (`TIME`).
"""

from __future__ import annotations

import redis.asyncio as redis

from .send_budget import BudgetSettings, Priority

_CLOCK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local function f6(x) return string.format('%.6f', x) end
"""

TAKE = (
    _CLOCK
    + """
local fleet, chatkey = KEYS[1], KEYS[2]
local priority = ARGV[1]
local rate, burst = tonumber(ARGV[2]), tonumber(ARGV[3])
local chat_rate, chat_burst = tonumber(ARGV[4]), tonumber(ARGV[5])
local share, reserve, guard, paid_rate = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local function fill(key, field, r, b)
  local v = redis.call('HMGET', key, field, field .. '@')
  if not v[1] then return b end
  return math.min(b, tonumber(v[1]) + math.max(0, now - tonumber(v[2])) * r)
end
local pause = tonumber(redis.call('HGET', fleet, 'pause') or '0')
if pause > now then return f6(pause - now) end
local all = fill(fleet, 'all', rate, burst)
local chat = nil
if chatkey ~= '' then
  chat = fill(chatkey, 't', chat_rate, chat_burst)
  if chat < 1 then return f6((1 - chat) / chat_rate) end
end
if priority == 'reply' then
  if all < 1 then
    local wait = (1 - all) / rate
    redis.call('HSET', fleet, 'replies', f6(now + wait + guard))
    return f6(wait)
  end
  redis.call('HSET', fleet, 'all', f6(all - 1), 'all@', f6(now))
elseif priority == 'broadcast' then
  local replies = tonumber(redis.call('HGET', fleet, 'replies') or '0')
  if replies > now then return f6(replies - now) end
  local need = 1 + reserve
  if all < need then return f6((need - all) / rate) end
  local share_rate = rate * share
  local mine = fill(fleet, 'broadcast', share_rate, 1)
  if mine < 1 then return f6((1 - mine) / share_rate) end
  redis.call('HSET', fleet, 'all', f6(all - 1), 'all@', f6(now), 'broadcast', f6(mine - 1), 'broadcast@', f6(now))
else
  local paid = fill(fleet, 'paid', paid_rate, 1)
  if paid < 1 then return f6((1 - paid) / paid_rate) end
  redis.call('HSET', fleet, 'paid', f6(paid - 1), 'paid@', f6(now))
end
redis.call('PEXPIRE', fleet, 86400000)
if chat then
  redis.call('HSET', chatkey, 't', f6(chat - 1), 'a', f6(now))
  redis.call('PEXPIRE', chatkey, math.ceil(1000 * chat_burst / chat_rate))
end
return '0'
"""
)

PAUSE = (
    _CLOCK
    + """
local until_ = now + tonumber(ARGV[1])
local current = tonumber(redis.call('HGET', KEYS[1], 'pause') or '0')
if until_ > current then redis.call('HSET', KEYS[1], 'pause', f6(until_)) end
redis.call('PEXPIRE', KEYS[1], 86400000)
return f6(until_)
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

    async def take(self, chat: int | None, priority: Priority) -> float:
        s = self.settings
        chat_rate, chat_burst = s.chat_bucket(chat) if chat is not None else (1.0, 1.0)
        chat_key = f"{self.fleet_key}:chat:{chat}" if chat is not None else ""
        wait = await self._take(
            keys=[self.fleet_key, chat_key],
            args=[
                priority.value,
                s.per_second,
                s.burst,
                chat_rate,
                chat_burst,
                s.broadcast_share,
                s.reserve,
                s.reply_guard,
                s.paid_per_second,
            ],
        )
        return float(wait)

    async def pause(self, seconds: float) -> None:
        await self._pause(keys=[self.fleet_key], args=[seconds])

    async def close(self) -> None:
        await self._client.aclose()
