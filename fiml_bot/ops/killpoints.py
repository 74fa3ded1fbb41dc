"""Named points of a long operation where a fault can be injected: how the kill test proves that a
restore killed at any step loses nothing.

The crash tests' fault injector is the FIML_KILL_AT setting (fiml_bot/settings.py): the entry point
reads it with the other settings and calls `arm(value)` once. `<point>` makes the process SIGKILL
itself there; `<point>:group` kills its whole process group (as systemd does); `<point>:connection`
terminates the operation's PostgreSQL connection instead (the caller passes how). Unarmed, a point
costs one comparison.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

_armed = ""  # the FIML_KILL_AT value the entry point passed ("": no fault injected)


def arm(value: str) -> None:
    """Inject the fault `value` names (`POINT[:group|:connection]`; "" disarms): the entry point calls
    this once with the setting's value, so no kill point reads the environment."""
    global _armed
    _armed = value.strip()


def point(name: str, terminate_connection: Callable[[], None] | None = None) -> None:
    wanted = _armed
    if not wanted:
        return
    where, _, how = wanted.rpartition(":")
    if how not in ("group", "connection"):
        where, how = wanted, ""
    if where != name:
        return
    if how == "connection":
        if terminate_connection is not None:
            terminate_connection()
        return
    if how == "group":
        os.killpg(os.getpgrp(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)
