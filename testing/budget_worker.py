"""A sender in its own process, for the shared-budget tests: `python -m testing.budget_worker ...`.

    budget_worker BASE_URL FIRST_CHAT COUNT PRIORITY

sends COUNT messages to chats FIRST_CHAT, FIRST_CHAT+1, ... through an `ExtBot` whose rate limiter
is the budget `open_budget` picks from the environment (FIML_REDIS_URL, FIML_SEND_BUDGET,
FIML_DATABASE_URL, FIML_TELEGRAM_RATE), as `fiml-bot run` and `notify` do; prints one line of JSON:
{"sent": n, "retries": n, "seconds": s}.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from fiml_bot.adapters.rate_limiter import FleetRateLimiter
from fiml_bot.adapters.send_budget import Priority, open_budget
from testing.fakebotapi import DEFAULT_TOKEN


async def main(base_url: str, first_chat: int, count: int, priority: str) -> dict[str, float]:
    limiter = FleetRateLimiter(
        open_budget(DEFAULT_TOKEN, os.environ.get("FIML_DATABASE_URL", "sqlite:///unused.db"), os.environ),
        priority=Priority(priority),
    )
    request = HTTPXRequest(connection_pool_size=64, httpx_kwargs={"trust_env": False})
    bot = ExtBot(DEFAULT_TOKEN, base_url=base_url, request=request, rate_limiter=limiter)
    started = time.monotonic()
    async with bot:
        await asyncio.gather(*(bot.send_message(first_chat + i, f"message {i}") for i in range(count)))
    return {"sent": count, "retries": limiter.retries, "seconds": time.monotonic() - started}


if __name__ == "__main__":
    base_url, first_chat, count, priority = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    print(json.dumps(asyncio.run(main(base_url, first_chat, count, priority))))
