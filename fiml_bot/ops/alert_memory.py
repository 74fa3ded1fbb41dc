"""What a short-lived command fired, kept between its runs, so that a later run can resolve it.

`fiml-bot doctor` runs from cron: a run that finds problems fires DoctorProblems and exits; the next
clean run must resolve that same alert (same labels and startsAt), though the process that fired it
is gone. One JSON file (FIML_ALERT_STATE, default var/alerts.json) maps "name@database" to the alert;
the database is kept as a hash of its URL (a URL may hold a password). Written atomically; a file
that cannot be read counts as empty (the worst case is one resolution not sent).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fiml_cms.atomic import write_bytes

from .alerts import Alert

log = logging.getLogger("fiml_bot.alerts")

DEFAULT_PATH = Path("var/alerts.json")


def state_path(env: Mapping[str, str]) -> Path:
    from ..settings import ALERT_STATE

    value = ALERT_STATE.read(env)
    return Path(value) if value else DEFAULT_PATH


def key(name: str, database_url: str) -> str:
    return f"{name}@{hashlib.sha256(database_url.encode()).hexdigest()[:16]}"


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("alert state %s unreadable (%s): starting afresh", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def _write(path: Path, data: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(path, json.dumps(data, indent=1, sort_keys=True).encode(), mode=0o600)
    except OSError as exc:
        log.warning("alert state %s not written (%s): a later run cannot resolve this alert", path, exc)


def remember(path: Path, entry: str, alert: Alert) -> Alert:
    """Keep `alert` as firing under `entry`; an alert already firing there keeps its startsAt."""
    data = _read(path)
    earlier = data.get(entry)
    if isinstance(earlier, dict) and isinstance(earlier.get("starts_at"), str):
        try:
            alert = Alert(
                alert.name,
                alert.severity,
                alert.summary,
                alert.description,
                alert.labels,
                dt.datetime.fromisoformat(earlier["starts_at"]),
            )
        except ValueError:
            pass
    data[entry] = {
        "name": alert.name,
        "severity": alert.severity,
        "summary": alert.summary,
        "labels": dict(alert.labels),
        "starts_at": alert.starts_at.isoformat(),
    }
    _write(path, data)
    return alert


def forget(path: Path, entry: str) -> Alert | None:
    """The alert firing under `entry`, resolved now (and no longer kept); None if none was firing."""
    data = _read(path)
    kept = data.pop(entry, None)
    if not isinstance(kept, dict):
        return None
    _write(path, data)
    try:
        return Alert(
            str(kept["name"]),
            str(kept["severity"]),
            str(kept["summary"]),
            labels={str(k): str(v) for k, v in dict(kept.get("labels") or {}).items()},
            starts_at=dt.datetime.fromisoformat(str(kept["starts_at"])),
        ).resolved()
    except (KeyError, TypeError, ValueError):
        return None
