"""Numeric bounds checked in Python, never left to the JSON Schema validator alone.

jsonschema-rs silently accepts integers of a few thousand bits for `minimum`/`maximum` (they do not
fit its number type), so a lesson with `xp_reward: 0x` followed by 3,600 `f`s validated clean and
then broke the bot's database write. Every integer is therefore checked here against a safe range
first, and the semantic rules compare the lesson's numbers with the schema's own limits.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from .findings import JsonPath

#: The largest integer every JSON reader keeps exactly (2**53 - 1); no field allows more.
MAX_SAFE_INTEGER = 2**53 - 1


def is_unsafe_number(value: Any) -> bool:
    """An int (not a bool) or a float whose magnitude no field of any document allows."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return abs(value) > MAX_SAFE_INTEGER


def unsafe_numbers(data: Any) -> Iterator[tuple[JsonPath, int | float]]:
    """Every number in JSON-shaped `data` past MAX_SAFE_INTEGER, with its path (iterative: no recursion)."""
    stack: list[tuple[Any, JsonPath]] = [(data, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            stack.extend((v, (*path, k)) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, (*path, i)) for i, v in enumerate(node))
        elif is_unsafe_number(node):
            yield path, node


def describe_number(value: int | float) -> str:
    """A number for a message; a huge int by its size (str() refuses ints past 4,300 digits)."""
    if isinstance(value, int) and abs(value) > 10**30:
        digits = int(abs(value).bit_length() * 0.30103) + 1
        return f"a number of about {digits:,} digits"
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class Range:
    minimum: int | float | None
    maximum: int | float | None

    def holds(self, value: int | float) -> bool:
        return (self.minimum is None or value >= self.minimum) and (
            self.maximum is None or value <= self.maximum
        )

    def describe(self) -> str:
        return (
            f"between {self.minimum:,} and {self.maximum:,}"
            if self.minimum is not None and self.maximum is not None
            else f"at most {self.maximum:,}"
            if self.maximum is not None
            else f"at least {self.minimum:,}"
        )


@cache
def lesson_range(*schema_path: str) -> Range:
    """`minimum`/`maximum` of the lesson schema node at `schema_path` (e.g. "properties", "xp_reward")."""
    from .schema import LESSON_SCHEMA, load_schema

    node: Any = load_schema(LESSON_SCHEMA)
    for part in schema_path:
        node = node[part]
    return Range(node.get("minimum"), node.get("maximum"))
