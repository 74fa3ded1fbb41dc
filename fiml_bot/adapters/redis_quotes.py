"""The market-data cache shared by replicas, in Redis: answers under `fiml:market:<key>` for the TTL,
and a lease `fiml:market-lease:<key>` (SET NX PX) so that one replica asks the provider."""

from __future__ import annotations

import redis.asyncio as redis


class RedisQuotes:
    def __init__(self, url: str) -> None:
        self.url = url
        self._clients: dict[object, redis.Redis] = {}

    def _client(self) -> redis.Redis:
        import asyncio

        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = redis.Redis.from_url(self.url)
        return client

    async def get(self, key: str) -> bytes | None:
        value = await self._client().get(f"fiml:market:{key}")
        return value if isinstance(value, bytes) else None

    async def put(self, key: str, value: bytes, seconds: float) -> None:
        await self._client().set(f"fiml:market:{key}", value, px=max(int(seconds * 1000), 1))

    async def aclose(self) -> None:
        import asyncio

        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    async def claim(self, key: str, seconds: float) -> bool:
        return bool(
            await self._client().set(
                f"fiml:market-lease:{key}", b"1", nx=True, px=max(int(seconds * 1000), 1)
            )
        )
