"""Named points of a long operation where a fault can be injected: how the kill test proves that a
restore killed at any step loses nothing.

`FIML_KILL_AT=<point>` makes the process SIGKILL itself there; `<point>:group` kills its whole
process group (as systemd does); `<point>:connection` terminates the operation's PostgreSQL connection
instead (the caller passes how). Unset, a point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

VARIABLE = "FIML_KILL_AT"


def point(name: str, terminate_connection: Callable[[], None] | None = None) -> None:
    wanted = os.environ.get(VARIABLE, "")
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
