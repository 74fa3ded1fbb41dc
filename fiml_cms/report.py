"""Rendering findings: text, json, GitHub workflow commands and SARIF 2.1.0.

Reporters only format; the checks never print.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Protocol

from .findings import RULES, Finding, Severity

FORMATS = ("text", "json", "github", "sarif")


class Result(Protocol):
    """What a reporter reads from a check's result. Read-only members, so frozen dataclasses
    (`ValidationResult`, `ArchiveResult`) satisfy it as well as mutable ones."""

    @property
    def files(self) -> int: ...

    @property
    def findings(self) -> Sequence[Finding]: ...

    @property
    def errors(self) -> int: ...

    @property
    def warnings(self) -> int: ...


def default_format(github_actions: bool) -> str:
    """GitHub annotations inside GitHub Actions, text elsewhere; the entry point tells which
    (GITHUB_ACTIONS, read by fiml_cms/cli.py: reporters only format)."""
    return "github" if github_actions else "text"


def render(result: Result, fmt: str, color: bool = False, command: str = "validate") -> str:
    """The findings in `fmt`; `command` names the JSON envelope's schema (`fiml-cms/<command>`)."""
    if fmt == "json":
        return _json(result, command)
    return _RENDERERS[fmt](result, color)


def _text(result: Result, color: bool) -> str:
    lines = []
    for f in result.findings:
        sev = f.severity.value if f.severity else "error"
        if color:
            style = "\x1b[31m" if f.severity is Severity.ERROR else "\x1b[33m"
            sev = f"{style}{sev}\x1b[0m"
        lines.append(f"{f.file}:{f.line}:{f.column}: {sev} {f.code} {f.message} [{f.json_path}]")
    noun = "file" if result.files == 1 else "files"
    lines.append(f"{result.files} {noun} checked: {result.errors} error(s), {result.warnings} warning(s)")
    return "\n".join(lines)


def _json(result: Result, command: str) -> str:
    from .envelope import dumps

    return dumps(
        f"fiml-cms/{command}",
        {
            "files": result.files,
            "errors": result.errors,
            "warnings": result.warnings,
            "findings": [
                {
                    "code": f.code,
                    "severity": f.severity.value if f.severity else "error",
                    "file": f.file,
                    "line": f.line,
                    "column": f.column,
                    "path": f.json_path,
                    "message": f.message,
                    **({"fix": f.fix.as_json()} if f.fix is not None else {}),
                }
                for f in result.findings
            ],
        },
    )


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _github(result: Result, color: bool) -> str:
    lines = []
    for f in result.findings:
        command = "error" if f.severity is Severity.ERROR else "warning"
        props = (
            f"file={_escape_property(f.file)},line={f.line},col={f.column},title={_escape_property(f.code)}"
        )
        lines.append(f"::{command} {props}::{_escape_data(f'{f.message} [{f.json_path}]')}")
    return "\n".join(lines)


def _sarif(result: Result, color: bool) -> str:
    from . import __version__

    used = sorted({f.code for f in result.findings})
    rule_index = {code: i for i, code in enumerate(used)}
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "fiml-cms",
                        "version": __version__,
                        "rules": [
                            {
                                "id": code,
                                "name": RULES[code].name,
                                "shortDescription": {"text": RULES[code].summary},
                                "defaultConfiguration": {"level": RULES[code].severity.value},
                            }
                            for code in used
                        ],
                    }
                },
                "results": [
                    {
                        "ruleId": f.code,
                        "ruleIndex": rule_index[f.code],
                        "level": f.severity.value if f.severity else "error",
                        "message": {"text": f.message},
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {"uri": f.file},
                                    "region": {"startLine": max(f.line, 1), "startColumn": max(f.column, 1)},
                                },
                                "logicalLocations": [{"fullyQualifiedName": f.json_path}],
                            }
                        ],
                    }
                    for f in result.findings
                ],
            }
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


_RENDERERS: dict[str, Callable[[Result, bool], str]] = {
    "text": _text,
    "github": _github,
    "sarif": _sarif,
}
