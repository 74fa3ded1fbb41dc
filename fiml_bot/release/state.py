"""The release's state file: where the split stands and why, written atomically after every step.

A `release` process that is killed loses nothing: the next one reads this file, puts HAProxy back on
the recorded split (an idempotent `set map`) and carries on from the recorded phase.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from fiml_cms.atomic import write_bytes
from fiml_cms.errors import FimlError

from .haproxy import Split

IDLE, RUNNING, PROMOTED, ROLLED_BACK = "idle", "running", "promoted", "rolled_back"
STATUSES = (IDLE, RUNNING, PROMOTED, ROLLED_BACK)
LOG_LIMIT = 500  # the newest steps kept in the file; the process log has them all


class ReleaseStateError(FimlError):
    exit_code = 2


@dataclass
class ReleaseState:
    stable: str
    canary: str
    canary_percent: int = 0
    release: str | None = None
    status: str = IDLE
    phase: int = -1
    phase_started: float = 0.0
    reason: str = ""
    schema_before: str | None = None
    snapshot: str | None = None
    alerted: bool = False
    seen: dict[str, dict[str, float]] = field(default_factory=dict)  # replica -> counters last read
    phase_counts: dict[str, dict[str, float]] = field(default_factory=dict)  # color -> counts this phase
    doctor_at: float = 0.0
    paused: bool = False  # `release pause`: no phase advances nor promotion until `release resume`
    hold: str = ""  # why the release holds where it is (a health gate), "" when it does not
    log: list[dict[str, Any]] = field(default_factory=list)

    @property
    def split(self) -> Split:
        return Split(self.stable, self.canary, self.canary_percent)

    def adopt(self, other: ReleaseState) -> None:
        """Take every field of `other` (the file, newer than this process's copy)."""
        for item in fields(self):
            setattr(self, item.name, getattr(other, item.name))

    def record(self, step: str, detail: str, clock: float | None = None) -> dict[str, Any]:
        entry = {"at": round(time.time() if clock is None else clock, 3), "step": step, "detail": detail}
        self.log = (self.log + [entry])[-LOG_LIMIT:]
        return entry


def load(path: Path, stable: str, canary: str) -> ReleaseState:
    """The recorded state, or a fresh idle one (nothing released yet) when there is no file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ReleaseState(stable=stable, canary=canary)
    except (OSError, ValueError) as exc:
        raise ReleaseStateError(
            f"{path}: the release state cannot be read ({exc}); fix or move it, then run `fiml-bot release status`"
        ) from None
    try:
        state = ReleaseState(**data)
    except TypeError as exc:
        raise ReleaseStateError(f"{path}: not a release state file ({exc})") from None
    if state.status not in STATUSES:
        raise ReleaseStateError(f"{path}: unknown status {state.status!r}")
    return state


def save(path: Path, state: ReleaseState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, (json.dumps(asdict(state), indent=1, sort_keys=True) + "\n").encode())


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """One writer at a time: the running `release start` and an operator's command by hand."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
