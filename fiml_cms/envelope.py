"""The one envelope of every command's `--json` output: `{"schema": NAME, "version": 1, ...}`.

`schema` names the command's output (`fiml-cms/validate`, `fiml-bot/doctor`, ...) and `version` its
shape: a field may be added within a version, never renamed or removed. Each shape is described by a
JSON Schema in `schemas/output/` (the test suite checks every command's output against its schema).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

VERSION = 1


def envelope(schema: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """`payload` under the envelope's two fields (which come first)."""
    return {"schema": schema, "version": VERSION, **payload}


def dumps(schema: str, payload: Mapping[str, Any]) -> str:
    """The enveloped payload as indented JSON text (UTF-8 kept as is)."""
    return json.dumps(envelope(schema, payload), indent=2, ensure_ascii=False)


def schema_file(schema: str) -> str:
    """The JSON Schema's file name under schemas/output/ for an output named `schema`."""
    return schema.replace("/", "-") + ".schema.json"
