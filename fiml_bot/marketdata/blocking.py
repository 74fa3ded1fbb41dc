"""The market-data service for a synchronous caller (the terminal chat): its own event loop in a thread.

A chart becomes a PNG file saved (atomically) in a folder, named by its query, plus a text sparkline.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from ..tutor.messages import Message
from .present import sparkline
from .service import MarketData, Shown

T = TypeVar("T")
BOUND = 30.0  # seconds: past the deadline a live section never waits this long; a bug must not hang the chat


class BlockingMarketData:
    """`market` None: no provider configured, messages print as they are (key commands still run here)."""

    def __init__(self, market: MarketData | None, chart_dir: Path) -> None:
        self.market = market
        self.chart_dir = chart_dir
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="market-data", daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on this object's loop and wait for it (bounded)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(BOUND)

    def shown(self, message: Message, learner_id: str) -> Shown | None:
        if message.live is None or self.market is None:
            return None
        return self.run(self.market.show(message.live, learner_id))

    def text(self, message: Message, learner_id: str) -> str:
        """The message as the terminal prints it: live data, or the chart's sparkline and saved file."""
        shown = self.shown(message, learner_id)
        if shown is None:
            return message.text
        if shown.history is None:
            return shown.text
        line = sparkline([c.close for c in shown.history.candles])
        parts = [shown.text, f"`{line}`"]
        if shown.photo is not None and message.live is not None:
            path = self.save(
                shown.photo, f"{message.live.symbol}-{message.live.period}-{message.live.chart_kind}.png"
            )
            parts.append(f"Chart saved as {path}")
        return "\n\n".join(parts)

    def save(self, data: bytes, name: str) -> Path:
        self.chart_dir.mkdir(parents=True, exist_ok=True)
        target = self.chart_dir / name
        fd, temp = tempfile.mkstemp(dir=self.chart_dir, prefix=".tmp-", suffix=".png")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return target

    def close(self) -> None:
        async def shut() -> None:
            for task in asyncio.all_tasks() - {asyncio.current_task()}:
                task.cancel()  # a provider call still running past its learner's deadline
            if self.market is not None:
                await self.market.aclose()

        try:
            asyncio.run_coroutine_threadsafe(shut(), self._loop).result(5)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._loop.close()
