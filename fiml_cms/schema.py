"""JSON Schema validation of lessons and paths producing Findings a content author can act on (the
validator and its errors come from fiml_cms/schema_errors.py, the one module that reads jsonschema-rs)."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from .findings import Finding, Fix, JsonPath
from .schema_errors import SchemaError, compile_validator, schema_errors
from .suggest import closest, suggest

LESSON_SCHEMA = "lesson.schema.json"
PATH_SCHEMA = "path.schema.json"

_TYPE_WORDS = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping of fields",
    "null": "empty",
}
_RANGE_KINDS = {
    "Minimum",
    "Maximum",
    "ExclusiveMinimum",
    "ExclusiveMaximum",
    "MinLength",
    "MaxLength",
    "MinItems",
    "MaxItems",
    "UniqueItems",
    "MinProperties",
    "MaxProperties",
    "MultipleOf",
}


@cache
def load_schema(name: str) -> dict[str, Any]:
    # Next to this module (package data), read directly: importlib.resources costs ~6 ms of imports
    # on every `fiml-cms validate` run and the package is never imported from a zip.
    text = (Path(__file__).parent / "schemas" / name).read_text(encoding="utf-8")
    return json.loads(text)


@cache
def _validator(name: str) -> Any:
    return compile_validator(load_schema(name))


def validate(name: str, document: Any, file: str) -> list[Finding]:
    """All schema findings for `document` (JSON values) against schema `name`."""
    errors = schema_errors(_validator(name), load_schema(name), document)
    if not errors:
        return []
    noun = "the learning path" if name == PATH_SCHEMA else "the lesson"
    return _drop_redundant([f for error in errors for f in _findings(error, file, noun)])


def _findings(error: SchemaError, file: str, noun: str) -> list[Finding]:
    if error.kind == "AdditionalProperties":
        path = error.path
        known = sorted(error.node.get("properties", {})) if error.node else []
        hint = f" (allowed here: {', '.join(known)})" if known else ""
        where = _field_name(path, noun)
        # a field the mapping already has is no candidate: renaming to it would repeat a key
        free = [k for k in known if not (isinstance(error.instance, dict) and k in error.instance)]
        return [
            Finding(
                "FIML021",
                f"unknown field `{name}` in {where}{suggest(name, free)}{hint}",
                file,
                (*path, name),
                at_key=True,
                fix=Fix("rename", match) if (match := closest(name, free)) else None,
            )
            for name in error.unexpected
        ]
    return [_finding(error, file, noun)]


def _finding(error: SchemaError, file: str, noun: str) -> Finding:
    path = error.path
    where = _field_name(path, noun)
    if error.kind == "Required":
        return Finding(
            "FIML020",
            f"{where} is missing the required field `{error.missing}`",
            file,
            (*path, error.missing),
        )
    if error.kind == "Type":
        expected = " or ".join(_TYPE_WORDS.get(t, t) for t in error.types)
        found = describe_value(error.instance)
        hint, fix = "", None
        if (
            "string" in error.types
            and isinstance(error.instance, (int, float))
            and not isinstance(error.instance, bool)
        ):
            quoted = _quoted_suggestion(error)
            hint, fix = f'; write it in quotes: "{quoted}"', Fix("set", quoted)
        return Finding("FIML022", f"{where} must be {expected}, not {found}{hint}", file, path, fix=fix)
    if error.kind in _RANGE_KINDS:
        return Finding("FIML024", f"{where}: {_plain_message(error.message)}", file, path)
    return Finding("FIML023", _value_message(error, where), file, path)


def _quoted_suggestion(error: SchemaError) -> str:
    """A number where a string belongs, as the string to write: a version is completed to MAJOR.MINOR.PATCH
    (`1.0` becomes "1.0.0"), so the hint followed literally passes the version's own pattern."""
    text = str(error.instance)
    node = error.node or {}
    if node.get("title") == "version" and re.fullmatch(r"[0-9]+(?:\.[0-9]+){0,2}", text):
        parts = text.split(".")
        return ".".join(str(int(p)) for p in parts + ["0"] * (3 - len(parts)))
    return text


def _value_message(error: SchemaError, where: str) -> str:
    value = describe_value(error.instance)
    if error.kind == "Enum":
        options = ", ".join(json.dumps(o) for o in error.options)
        return f"{where} must be one of {options}, not {value}"
    if error.kind == "Constant":
        return f"{where} must be {json.dumps(error.expected)}, not {value}"
    if error.kind in ("Pattern", "Format"):
        described = error.node or {}
        title = described.get("title", "value")
        rule = described.get("description") or f"it must match {error.pattern}"
        return f"{where}: {value} is not a valid {title}. {rule}"
    return f"{where}: {_plain_message(error.message)}"


def _drop_redundant(findings: list[Finding]) -> list[Finding]:
    """Keep one finding per (path, code); a wrong type makes its other errors noise, and a misspelt
    field (`explenation`) is reported once, as unknown, not also as the missing `explanation`."""
    typed = {f.path for f in findings if f.code == "FIML022"}
    unknown: dict[JsonPath, list[str]] = {}
    for f in findings:
        if f.code == "FIML021" and f.path:
            unknown.setdefault(f.path[:-1], []).append(str(f.path[-1]))
    seen: set[tuple[JsonPath, str, str]] = set()
    out = []
    for f in findings:
        if f.code != "FIML022" and f.path in typed:
            continue
        if (
            f.code == "FIML020"
            and f.path
            and any(closest(name, [str(f.path[-1])]) for name in unknown.get(f.path[:-1], ()))
        ):
            continue
        key = (f.path, f.code, f.message)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def _field_name(path: JsonPath, noun: str = "the lesson") -> str:
    if not path:
        return noun
    last = path[-1]
    if isinstance(last, int):
        parent = path[-2] if len(path) > 1 else "list"
        return f"item {last} of `{parent}`"
    return f"`{last}`"


def describe_value(value: Any, mapping: str = "a mapping", null: str = "an empty value") -> str:
    """A value as an error message names it: `the number 5`, `\"abc\"`, `a list`."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if value is None:
        return null
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f'"{shown}"' if shown else "empty text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return mapping
    return repr(value)


def _plain_message(message: str) -> str:
    return message if len(message) <= 200 else message[:197] + "..."
