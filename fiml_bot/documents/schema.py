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
from fiml_cms.schema import describe_value, load_schema, schema_node

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
    import jsonschema_rs

    return jsonschema_rs.Draft202012Validator(progress_schema(), validate_formats=True)


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
    validator = _validator()
    if validator.is_valid(document):
        return []
    schema = progress_schema()
    problems: list[Problem] = []
    for error in validator.iter_errors(document):
        problems.extend(_problems(error, schema))
    return _deduplicated(problems)


def _problems(error: Any, schema: dict[str, Any]) -> list[Problem]:
    kind = error.kind
    kind_name = type(kind).__name__
    path: JsonPath = tuple(error.instance_path)
    node = schema_node(schema, list(error.schema_path)[:-1]) or {}
    if kind_name == "AdditionalProperties":
        allowed = ", ".join(sorted(node.get("properties", {})))
        hint = f" (allowed here: {allowed})" if allowed else ""
        return [Problem((*path, name), f"unknown field{hint}") for name in kind.unexpected]
    if kind_name == "Required":
        return [Problem(path, f"the required field `{kind.property}` is missing")]
    if kind_name == "Type":
        expected = " or ".join(_TYPE_WORDS.get(t, t) for t in kind.types)
        return [Problem(path, f"must be {expected}, not {_describe(error.instance)}")]
    if kind_name == "Enum":
        options = ", ".join(json.dumps(o) for o in kind.options)
        return [Problem(path, f"must be one of {options}, not {_describe(error.instance)}")]
    if kind_name == "Constant":
        return [Problem(path, f"must be {json.dumps(kind.expected_value)}, not {_describe(error.instance)}")]
    if kind_name in ("Pattern", "Format"):
        return [
            Problem(
                path,
                f"{_describe(error.instance)} is not a valid {node.get('title', 'value')}: {node.get('description', '')}".rstrip(
                    ": "
                ),
            )
        ]
    if kind_name == "PropertyNames":
        inner = kind.error
        inner_node = schema_node(schema, list(inner.schema_path)[:-1]) or {}
        title = inner_node.get("title", "key")
        return [
            Problem(
                (*path, str(inner.instance)),
                f"the key {_describe(inner.instance)} is not a valid {title}: {inner_node.get('description', '')}".rstrip(
                    ": "
                ),
            )
        ]
    if kind_name == "AnyOf":
        what = node.get("description", "")
        return [
            Problem(path, f"{_describe(error.instance)} is not allowed here" + (f": {what}" if what else ""))
        ]
    if kind_name == "UniqueItems":
        return [Problem(path, "lists the same item more than once")]
    if kind_name in _SIZE_LIMITS:  # without the value: it may be megabytes long
        noun, unit = _SIZE_LIMITS[kind_name]
        return [Problem(path, f"{noun} {len(error.instance):,} {unit}; at most {kind.limit:,} are allowed")]
    if kind_name in ("Minimum", "Maximum", "ExclusiveMinimum", "ExclusiveMaximum", "MinLength", "MinItems"):
        return [Problem(path, _short(error.message))]
    return [Problem(path, _short(error.message))]


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
