"""Waiting, boundedly, for something a test caused elsewhere (a process, a proxy, a file) to show.

The bound only keeps a broken run from hanging: a test asserts what happened, never how long it took.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float, what: str = "condition", poll: float = 0.05) -> T:
    """`predicate()`'s first truthy value; AssertionError naming `what` if none came within `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(poll)
