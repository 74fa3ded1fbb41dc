"""Per-key call limits, so a key stays within its provider's documented free-tier limits.

Each key gets its own windows (e.g. Finnhub: 60 calls a minute; Alpha Vantage: 25 a day). A call the
windows would not allow is not made: the provider's own 429 (or "rate limit" note) would cost a call of
the quota and tell us nothing new. Per replica; a learner's quota used today is counted in the database.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable


def key_id(provider: str, key: str) -> str:
    """A name for a key that is not the key (the limiter's tables never hold a secret)."""
    return provider + ":" + hashlib.sha256(key.encode()).hexdigest()[:16]


class KeyLimits:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, provider: str, key: str, limits: tuple[tuple[int, float], ...]) -> bool:
        """Record a call with `key` if every window allows one more; False (nothing recorded) otherwise."""
        if not limits:
            return True
        longest = max(seconds for _, seconds in limits)
        name = key_id(provider, key)
        now = self.clock()
        with self._lock:
            calls = self._calls.setdefault(name, deque())
            while calls and calls[0] <= now - longest:
                calls.popleft()
            for count, seconds in limits:
                if sum(1 for t in calls if t > now - seconds) >= count:
                    return False
            calls.append(now)
            return True
