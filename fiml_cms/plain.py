"""Turning what YAML produced into JSON-shaped data the schema can judge.

YAML can express things JSON cannot: shared references (aliases), self-reference, dates,
binary, sets, non-text keys. Aliases are measured before anything is copied, so an
"alias bomb" is refused in time proportional to its text, not to its expansion.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from .bounds import MAX_SAFE_INTEGER, describe_number, is_unsafe_number
from .findings import JsonPath

#: A lesson is a few hundred nodes; an alias chain may not expand beyond this.
MAX_NODES = 50_000
#: No lesson nests deeper than ~6 levels; the copy below recurses, so deeper is refused.
MAX_DEPTH = 100


@dataclass(frozen=True)
class PlainProblem:
    code: str
    path: JsonPath
    message: str
    at_key: bool = False


class AliasProblem(Exception):
    """Data too large once aliases are expanded, self-referencing, or nested too deep."""

    def __init__(self, message: str, code: str = "FIML009", path: JsonPath = ()) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.path = path


def expanded_size(data: Any, limit: int = MAX_NODES) -> int:
    """Count nodes as if every alias were copied; raise AliasProblem past `limit` or on a cycle."""
    sizes: dict[int, int] = {}
    on_stack: set[int] = set()
    # Iterative post-order walk: (object, children visited?, depth)
    stack: list[tuple[Any, bool, int]] = [(data, False, 1)]
    while stack:
        obj, done, depth = stack.pop()
        if not isinstance(obj, (dict, list)):
            continue
        key = id(obj)
        if done:
            children = obj.values() if isinstance(obj, dict) else obj
            total = 1 + sum(sizes.get(id(c), 1) for c in children)
            sizes[key] = total
            on_stack.discard(key)
            if total > limit:
                raise AliasProblem(f"YAML aliases expand to more than {limit:,} values")
            continue
        if key in sizes:
            continue
        if key in on_stack:
            raise AliasProblem("a YAML alias refers to the collection that contains it")
        if depth > MAX_DEPTH:
            raise AliasProblem(
                f"the document is nested more than {MAX_DEPTH} levels deep",
                "FIML001",
                _path_to_depth(data, MAX_DEPTH + 1),
            )
        on_stack.add(key)
        stack.append((obj, True, depth))
        children = obj.values() if isinstance(obj, dict) else obj
        for child in children:
            if isinstance(child, (dict, list)):
                if id(child) in on_stack:
                    raise AliasProblem("a YAML alias refers to the collection that contains it")
                stack.append((child, False, depth + 1))
    return sizes.get(id(data), 1)


def _path_to_depth(data: Any, depth: int) -> JsonPath:
    """The JSON path of a collection nested `depth` levels deep (for the finding's position)."""
    stack: list[tuple[Any, JsonPath]] = [(data, ())]
    while stack:
        obj, path = stack.pop()
        if len(path) + 1 >= depth:
            return path
        items = obj.items() if isinstance(obj, dict) else enumerate(obj)
        stack.extend((child, (*path, key)) for key, child in items if isinstance(child, (dict, list)))
    return ()


def _key_text(key: Any) -> tuple[str, str]:
    """A non-text key as its author most likely wrote it, and what YAML read it as."""
    if isinstance(key, bool):
        return ("true" if key else "false"), "a boolean"
    if key is None:
        return "null", "an empty value (null)"
    if isinstance(key, (dt.date, dt.datetime)):
        return key.isoformat(), "a date"
    if isinstance(key, (int, float)):
        return str(key), "a number"
    return str(key), "a list or mapping (a complex key)"


def to_plain(data: Any) -> tuple[Any, list[PlainProblem]]:
    """Copy `data` as JSON values: dates become ISO text; unsupported values become None."""
    problems: list[PlainProblem] = []

    def convert(value: Any, path: JsonPath) -> Any:
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                if not isinstance(k, str):
                    k, was = _key_text(k)
                    problems.append(
                        PlainProblem(
                            "FIML012",
                            (*path, k),
                            f"the key `{k}` is read as {was}; field names are text: quote it or rename it",
                            True,
                        )
                    )
                out[k] = convert(v, (*path, k))
            return out
        if isinstance(value, list):
            return [convert(v, (*path, i)) for i, v in enumerate(value)]
        if isinstance(value, (dt.datetime, dt.date)):
            return value.isoformat()
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(PlainProblem("FIML012", path, f"{value} is not a usable number"))
            return None
        if is_unsafe_number(value):
            problems.append(
                PlainProblem(
                    "FIML024",
                    path,
                    f"{describe_number(value)} is too large: no field allows numbers beyond ±{MAX_SAFE_INTEGER:,}",
                )
            )
            return None
        if value is None or isinstance(value, (str, int, float, bool)):
            return value
        kind = {"bytes": "binary data (!!binary)", "set": "a set (!!set)"}.get(
            type(value).__name__, f"a {type(value).__name__}"
        )
        problems.append(
            PlainProblem(
                "FIML012", path, f"{kind} is not allowed in a lesson; use text, numbers, lists or mappings"
            )
        )
        return None

    return convert(data, ()), problems
