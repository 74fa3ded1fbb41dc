"""Applying the edits behind findings' hints (`fiml-cms validate --fix`).

A hint that names what to write ("did you mean `explanation`?", `write it in quotes: "1.0.0"`, `quote a
value that contains ': '`) carries it as a `Fix`, so following it is mechanical. Edits on the parsed
document go through ruamel.yaml's round trip, which keeps comments, key order and quoting; a file that
does not parse only gets whole-line edits.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from .findings import Finding, JsonPath, PathPart


def apply_fixes(text: str, findings: Iterable[Finding]) -> tuple[str, int]:
    """`text` with the fix of every finding that has one applied, and how many were applied."""
    fixes = [f for f in findings if f.fix is not None]
    line_fixes = [f for f in fixes if f.fix is not None and f.fix.action == "line"]
    if line_fixes:  # the file does not parse: no tree to edit
        return _replace_lines(text, line_fixes), len(line_fixes)
    if not fixes:
        return text, 0
    yaml = _round_trip()
    data = yaml.load(text)
    applied = sum(1 for f in fixes if _apply(data, f))
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue(), applied


def _replace_lines(text: str, findings: list[Finding]) -> str:
    lines = text.splitlines(keepends=True)
    for finding in findings:
        index = finding.line - 1
        if finding.fix is not None and 0 <= index < len(lines):
            ending = lines[index][len(lines[index].rstrip("\r\n")) :]
            lines[index] = str(finding.fix.value) + ending
    return "".join(lines)


def _apply(data: Any, finding: Finding) -> bool:
    assert finding.fix is not None
    if not finding.path:
        return False
    parent = _walk(data, finding.path[:-1])
    key = _existing_key(parent, finding.path[-1])
    if parent is None or key is _MISSING:
        return False
    if finding.fix.action == "set":
        parent[key] = _scalar(finding.fix.value, parent[key])
        return True
    if finding.fix.action == "rename" and hasattr(parent, "insert"):
        position = list(parent).index(key)
        value = parent.pop(key)
        parent.insert(position, finding.fix.value, value)
        return True
    return False


_MISSING = object()


def _walk(data: Any, path: JsonPath) -> Any:
    node = data
    for part in path:
        key = _existing_key(node, part)
        if key is _MISSING:
            return None
        node = node[key]
    return node


def _existing_key(node: Any, part: PathPart) -> Any:
    """The key of `node` that the JSON path part names (a non-text key is named by its text)."""
    if isinstance(node, list):
        return part if isinstance(part, int) and 0 <= part < len(node) else _MISSING
    if not isinstance(node, dict):
        return _MISSING
    if part in node:
        return part
    for key in node:
        if str(key) == str(part) or str(key).lower() == str(part):
            return key
    return _MISSING


def _scalar(value: Any, before: Any) -> Any:
    """A text that replaces a non-text value is written in double quotes (that is the fix)."""
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    if isinstance(value, str) and not isinstance(before, str):
        return DoubleQuotedScalarString(value)
    return value


def _round_trip() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap an author's long lines
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml
