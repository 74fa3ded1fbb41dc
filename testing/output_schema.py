"""Checks a command's `--json` output against the envelope and its own JSON Schema in schemas/output/
(issue 27): shared by the tests of both command lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUTPUT_SCHEMAS = Path(__file__).resolve().parent.parent / "schemas" / "output"


def load(name: str) -> dict[str, Any]:
    """The JSON Schema of the output named `name` (`fiml-bot/flags-explain`) or of the envelope."""
    document: dict[str, Any] = json.loads(
        (OUTPUT_SCHEMAS / f"{name.replace('/', '-')}.schema.json").read_text(encoding="utf-8")
    )
    return document


def conforms(text: str, name: str) -> dict[str, Any]:
    """`text` parsed, after checking it is one envelope named `name` that its schema accepts."""
    import jsonschema_rs

    document: dict[str, Any] = json.loads(text)
    jsonschema_rs.validate(load("envelope"), document)
    jsonschema_rs.validate(load(name), document)
    assert document["schema"] == name and document["version"] == 1
    assert list(document)[:2] == ["schema", "version"]
    return document
