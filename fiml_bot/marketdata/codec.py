"""Quotes and histories as bytes for the store replicas share (JSON, times in ISO 8601)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

from .model import Candle, History, Quote


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def encode(value: Quote | History) -> bytes:
    return json.dumps(_plain(value), separators=(",", ":")).encode()


def decode_quote(raw: bytes) -> Quote:
    data = json.loads(raw)
    data["time"] = dt.datetime.fromisoformat(data["time"])
    return Quote(**data)


def decode_history(raw: bytes) -> History:
    data = json.loads(raw)
    candles = tuple(Candle(**{**c, "time": dt.datetime.fromisoformat(c["time"])}) for c in data["candles"])
    return History(data["provider"], data["symbol"], data["period"], candles)
