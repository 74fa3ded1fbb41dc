"""What the market-data service needs from outside: providers, and a store shared by replicas."""

from __future__ import annotations

from typing import Protocol

from .model import History, Quote


class Provider(Protocol):
    """One data provider's HTTP API (an adapter under fiml_bot/adapters/)."""

    name: str
    limits: tuple[tuple[int, float], ...]  # the documented free-tier limits: (calls, per seconds)

    async def quote(self, symbol: str, key: str) -> Quote:
        """The latest quote; raises a ProviderFailure."""
        ...

    async def history(self, symbol: str, period: str, key: str) -> History:
        """Daily or weekly candles covering `period` (1d ... max); raises a ProviderFailure."""
        ...

    async def aclose(self) -> None: ...


class SharedStore(Protocol):
    """Values every replica sees (Redis): a cached answer, and a lease so that one replica fetches it."""

    async def get(self, key: str) -> bytes | None: ...

    async def put(self, key: str, value: bytes, seconds: float) -> None: ...

    async def claim(self, key: str, seconds: float) -> bool:
        """True for the one caller that may fetch `key` for the next `seconds`."""
        ...

    async def aclose(self) -> None: ...
