"""Numbers from FIML_* environment variables, with one clear error for a value that is not one."""

from __future__ import annotations

import math
from collections.abc import Mapping

from fiml_cms.errors import ConfigError


def float_variable(env: Mapping[str, str], name: str, default: float, example: str) -> float:
    """`name` as a finite number; `default` when unset or blank; ConfigError naming the variable otherwise."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ConfigError(f"{name}={raw!r}: give {example}")
    return value
