"""Validation of progress documents against `schemas/progress.schema.json`, with messages that name the
JSON path (`$.lessons.stock_basics.status`) and say what is expected there."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from fiml_cms.bounds import MAX_SAFE_INTEGER, describe_number, unsafe_numbers
from fiml_cms.errors import FimlError
from fiml_cms.findings import JsonPath
from fiml_cms.schema import describe_value, load_schema
from fiml_cms.schema_errors import SchemaError, compile_validator, schema_errors

PROGRESS_SCHEMA = "progress.schema.json"

_TYPE_WORDS = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
    "null": "null",
}


#: Limits on lengths and counts (issue 10.6), reported with the size found instead of the value.
_SIZE_LIMITS = {
    "MaxLength": ("is", "characters long"),
    "MaxItems": ("has", "items"),
    "MaxProperties": ("has", "entries"),
}

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def format_path(path: JsonPath) -> str:
    """`("lessons", "intro_1", "answers", 0)` -> `$.lessons.intro_1.answers[0]`; other keys in brackets."""
    out = ["$"]
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _IDENTIFIER.match(part):
            out.append(f".{part}")
        else:
            out.append(f"[{json.dumps(part, ensure_ascii=False)}]")
    return "".join(out)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a document, at a JSON path."""

    path: JsonPath
    message: str

    @property
    def where(self) -> str:
        return format_path(self.path)

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"

    def under(self, prefix: JsonPath) -> Problem:
        return Problem((*prefix, *self.path), self.message)


class InvalidDocument(FimlError):
    """A progress document that cannot be imported (or exported) as it is; nothing was written (exit 1)."""

    exit_code = 1

    def __init__(self, source: str, problems: Iterable[Problem] | str) -> None:
        if isinstance(problems, str):
            self.problems: tuple[Problem, ...] = ()
            text = f"{source}: {problems}"
        else:
            self.problems = tuple(problems)
            count = len(self.problems)
            lines = "\n".join(f"  {p}" for p in self.problems)
            text = f"{source}: not a valid progress document ({count} problem{'s' if count != 1 else ''}); nothing was written\n{lines}"
        super().__init__(text)
        self.source = source


@lru_cache(maxsize=1)
def progress_schema() -> dict[str, Any]:
    return load_schema(PROGRESS_SCHEMA)


@lru_cache(maxsize=1)
def _validator() -> Any:
    return compile_validator(progress_schema())


def schema_problems(document: Any) -> list[Problem]:
    """Every way `document` (a single document or a bundle) breaks the schema; [] when it is valid."""
    huge = [
        Problem(
            path,
            f"{describe_number(value)} is too large: no field allows numbers beyond {MAX_SAFE_INTEGER:,}",
        )
        for path, value in unsafe_numbers(document)
    ]
    if huge:  # the validator would let them through, and str() of one can fail
        return huge
    errors = schema_errors(_validator(), progress_schema(), document)
    return _deduplicated([problem for error in errors for problem in _problems(error)])


def _problems(error: SchemaError) -> list[Problem]:
    path, kind, node = error.path, error.kind, error.node or {}
    if kind == "AdditionalProperties":
        from fiml_cms.suggest import suggest

        known = sorted(node.get("properties", {}))
        hint = f" (allowed here: {', '.join(known)})" if known else ""
        return [
            Problem((*path, name), f"unknown field{suggest(name, known)}{hint}") for name in error.unexpected
        ]
    if kind == "Required":
        return [Problem(path, f"the required field `{error.missing}` is missing")]
    if kind == "Type":
        expected = " or ".join(_TYPE_WORDS.get(t, t) for t in error.types)
        return [Problem(path, f"must be {expected}, not {_describe(error.instance)}")]
    if kind == "Enum":
        options = ", ".join(json.dumps(o) for o in error.options)
        return [Problem(path, f"must be one of {options}, not {_describe(error.instance)}")]
    if kind == "Constant":
        return [Problem(path, f"must be {json.dumps(error.expected)}, not {_describe(error.instance)}")]
    if kind in ("Pattern", "Format"):
        return [Problem(path, _not_valid(_describe(error.instance), node))]
    if kind == "PropertyNames" and error.key is not None:
        key = error.key
        return [
            Problem(
                (*path, str(key.instance)),
                _not_valid(f"the key {_describe(key.instance)}", key.node or {}, "key"),
            )
        ]
    if kind == "AnyOf":
        what = node.get("description", "")
        return [
            Problem(path, f"{_describe(error.instance)} is not allowed here" + (f": {what}" if what else ""))
        ]
    if kind == "UniqueItems":
        return [Problem(path, "lists the same item more than once")]
    if kind in _SIZE_LIMITS:  # without the value: it may be megabytes long
        noun, unit = _SIZE_LIMITS[kind]
        return [Problem(path, f"{noun} {len(error.instance):,} {unit}; at most {error.limit:,} are allowed")]
    return [Problem(path, _short(error.message))]


def _not_valid(what: str, node: dict[str, Any], noun: str = "value") -> str:
    """`"x" is not a valid lesson id: <the schema's description>`, without a dangling colon."""
    return f"{what} is not a valid {node.get('title', noun)}: {node.get('description', '')}".rstrip(": ")


def _deduplicated(problems: list[Problem]) -> list[Problem]:
    """One problem per (path, message); a value of the wrong type makes its other errors noise."""
    typed = {p.path for p in problems if p.message.startswith("must be ") and ", not " in p.message}
    seen: set[tuple[JsonPath, str]] = set()
    out: list[Problem] = []
    for problem in problems:
        if problem.path in typed and not (
            problem.message.startswith("must be ") and ", not " in problem.message
        ):
            continue
        key = (problem.path, problem.message)
        if key not in seen:
            seen.add(key)
            out.append(problem)
    return out


def _describe(value: Any) -> str:
    return describe_value(value, mapping="an object", null="null")


def _short(message: str) -> str:
    return message if len(message) <= 200 else message[:197] + "..."
