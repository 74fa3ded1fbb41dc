"""The feature-flag file (flagd's flag-file format, `deploy/flags.json`) as far as fiml-cms writes it.

A content canary is one flag per lesson, `canary.<lesson id>`: a boolean flag whose `fractional`
targeting puts the given percentage of learners in the "on" bucket, with the versions in its metadata.
flagd's fractional hashes (flag key, learner), so each lesson's cohort is drawn independently, and the
"on" range always comes first, so raising the percentage only adds learners.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import atomic
from .errors import ConfigError

SCHEMA_URL = "https://flagd.dev/schema/v0/flags.json"
DEFAULT_PATH = Path("deploy/flags.json")
CANARY_PREFIX = "canary."
CANARY_KIND = "content-canary"


@dataclass(frozen=True)
class Canary:
    """A lesson version served to `percent` % of new starts; the others get `stable`."""

    lesson: str
    version: str
    stable: str
    percent: int  # 0 rolls the canary back


def canary_key(lesson_id: str) -> str:
    return f"{CANARY_PREFIX}{lesson_id}"


def canary_flag(canary: Canary) -> dict[str, Any]:
    return {
        "state": "ENABLED",
        "variants": {"on": True, "off": False},
        "defaultVariant": "off",
        "targeting": {"fractional": [["on", canary.percent], ["off", 100 - canary.percent]]},
        "metadata": {
            "kind": CANARY_KIND,
            "lesson": canary.lesson,
            "version": canary.version,
            "stable": canary.stable,
        },
    }


def canary_of(key: str, flag: Any) -> Canary | None:
    """The canary a flag stands for; None for any other flag (or one not shaped as `canary_flag` writes)."""
    if not key.startswith(CANARY_PREFIX) or not isinstance(flag, dict):
        return None
    meta = flag.get("metadata")
    if not isinstance(meta, dict) or meta.get("kind") != CANARY_KIND:
        return None
    lesson, version, stable = meta.get("lesson"), meta.get("version"), meta.get("stable")
    if not all(isinstance(v, str) and v for v in (lesson, version, stable)):
        return None
    percent = on_percent(flag)
    return None if percent is None else Canary(str(lesson), str(version), str(stable), percent)


def on_percent(flag: dict[str, Any]) -> int | None:
    """The share of learners in the "on" variant of a fractional flag (0 when disabled), or None."""
    if flag.get("state") == "DISABLED":
        return 0
    targeting = flag.get("targeting")
    fractions = targeting.get("fractional") if isinstance(targeting, dict) else None
    if not isinstance(fractions, list):
        return None
    weights = [
        f
        for f in fractions
        if isinstance(f, list) and len(f) == 2 and isinstance(f[1], int) and not isinstance(f[1], bool)
    ]
    total = sum(w for _, w in weights)
    if not weights or total <= 0:
        return None
    on = sum(w for variant, w in weights if variant == "on")
    return round(100 * on / total)


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def parse(text: str, source: str) -> dict[str, Any]:
    """The flag file's JSON (duplicate keys refused); ConfigError naming file, line and column."""
    try:
        data = json.loads(text, object_pairs_hook=_refuse_duplicates)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    except ValueError as exc:
        raise ConfigError(f"{source}: not valid JSON: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{source}: not usable JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise ConfigError(f'{source}:1:1: a flag file is a JSON object with a "flags" object')
    return data


def read(path: Path) -> dict[str, Any]:
    """The flag file at `path`, or an empty one when it does not exist yet."""
    if not path.exists():
        return {"$schema": SCHEMA_URL, "flags": {}}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the flag file: {exc}") from None
    data = parse(text, str(path))
    if not isinstance(data.get("flags", {}), dict):
        raise ConfigError(f'{path}: "flags" must be an object')
    return data


def write(path: Path, data: dict[str, Any]) -> None:
    """Replace the flag file atomically (a reader sees the old flags or the new ones)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_bytes(path, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def set_canary(path: Path, canary: Canary) -> None:
    data = read(path)
    data.setdefault("flags", {})[canary_key(canary.lesson)] = canary_flag(canary)
    write(path, data)


def current_canary(path: Path, lesson_id: str) -> Canary | None:
    return canary_of(canary_key(lesson_id), read(path).get("flags", {}).get(canary_key(lesson_id)))


def remove_canary(path: Path, lesson_id: str) -> bool:
    data = read(path)
    if data.get("flags", {}).pop(canary_key(lesson_id), None) is None:
        return False
    write(path, data)
    return True
