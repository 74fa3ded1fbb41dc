"""The one place that reads jsonschema-rs: validators, and its errors as plain values.

jsonschema-rs reports each error as an object whose `kind` is one of many classes (`Required`, `Type`,
`AdditionalProperties`, ...), each with its own attributes. Lessons (fiml_cms/schema.py), progress
documents (fiml_bot/documents/schema.py) and flag files (fiml_bot/ops/flags.py) word their messages
their own way, but read the same facts: `schema_errors` turns every error into a `SchemaError` that
holds them, so no other module knows jsonschema-rs's classes or attribute names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .findings import JsonPath


@dataclass(frozen=True)
class SchemaError:
    """One way a document breaks its schema."""

    kind: str  # jsonschema-rs's name for it: Required, Type, AdditionalProperties, Enum, Pattern, ...
    path: JsonPath  # where in the document
    instance: Any  # the value found there
    message: str  # jsonschema-rs's own wording
    node: dict[str, Any] | None  # the subschema that failed (through $ref): title, description, properties
    missing: str = ""  # Required: the missing field
    unexpected: tuple[str, ...] = ()  # AdditionalProperties: the unknown fields
    types: tuple[str, ...] = ()  # Type: the JSON types allowed
    options: tuple[Any, ...] = ()  # Enum: the values allowed
    expected: Any = None  # Constant: the one value allowed
    pattern: str = ""  # Pattern: the regular expression
    limit: Any = None  # MaxLength, MaxItems, MaxProperties, ...: the bound
    key: SchemaError | None = None  # PropertyNames: what is wrong with the key itself


def compile_validator(schema: dict[str, Any], *, validate_formats: bool = True) -> Any:
    """A Draft 2020-12 validator for `schema` (compile once, use many times)."""
    import jsonschema_rs

    return jsonschema_rs.Draft202012Validator(schema, validate_formats=validate_formats)


def schema_errors(validator: Any, schema: dict[str, Any], document: Any) -> list[SchemaError]:
    """Every error of `document` against `validator` (compiled from `schema`); [] when it is valid."""
    if validator.is_valid(document):
        return []
    return [_translate(error, schema) for error in validator.iter_errors(document)]


def _translate(error: Any, schema: dict[str, Any]) -> SchemaError:
    kind = error.kind
    key = getattr(kind, "error", None) if type(kind).__name__ == "PropertyNames" else None
    return SchemaError(
        kind=type(kind).__name__,
        path=tuple(error.instance_path),
        instance=error.instance,
        message=error.message,
        node=schema_node(schema, list(error.schema_path)[:-1]),
        missing=getattr(kind, "property", ""),
        unexpected=tuple(getattr(kind, "unexpected", ())),
        types=tuple(getattr(kind, "types", ())),
        options=tuple(getattr(kind, "options", ())),
        expected=getattr(kind, "expected_value", None),
        pattern=getattr(kind, "pattern", ""),
        limit=getattr(kind, "limit", None),
        key=_translate(key, schema) if key is not None else None,
    )


def schema_node(schema: dict[str, Any], schema_path: list[Any]) -> dict[str, Any] | None:
    """Follow a schema path (through $ref) to the subschema that raised the error; None when it leads
    nowhere (a $ref outside this schema, say)."""
    try:
        return _walk(schema, schema_path)
    except (KeyError, IndexError, TypeError):
        return None


def _walk(schema: dict[str, Any], schema_path: list[Any]) -> dict[str, Any] | None:
    node: Any = schema
    for part in schema_path:
        if isinstance(node, dict) and "$ref" in node and part not in node:
            node = _resolve(schema, node["$ref"])
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    if isinstance(node, dict) and "$ref" in node:
        merged = dict(_resolve(schema, node["$ref"]))
        merged.update({k: v for k, v in node.items() if k != "$ref"})
        node = merged
    return node if isinstance(node, dict) else None


def _resolve(schema: dict[str, Any], ref: str) -> Any:
    node: Any = schema
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node
