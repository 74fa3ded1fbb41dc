"""Reading legacy values: the notes and problems of one upgrade, text, numbers, versions, ids, paths."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from fiml_cms import versions


def json_path(*parts: Any) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def is_empty(value: Any) -> bool:
    return value is None or (
        isinstance(value, (str, list, dict)) and not (value.strip() if isinstance(value, str) else value)
    )


def shown(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def slug_id(text: str, fallback: str = "section") -> str:
    """An item id (`^[a-z][a-z0-9_]{0,31}$`) made from a legacy type or heading."""
    base = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    if not base or not base[0].isalpha():
        base = f"{fallback}_{base}".strip("_") if base else fallback
    return base[:32].rstrip("_")


def unique_id(base: str, taken: set[str]) -> str:
    if base not in taken:
        return base
    n = 2
    while True:
        suffix = f"_{n}"
        candidate = base[: 32 - len(suffix)].rstrip("_") + suffix
        if candidate not in taken:
            return candidate
        n += 1


def clean_text(text: str) -> tuple[str, int]:
    """Trailing spaces removed from each line, leading/trailing blank lines removed.

    Multi-line text, and text that ended with a newline, ends with exactly one (a YAML `|`
    block); returns the count of lines that lost trailing spaces.
    """
    lines = text.split("\n")
    stripped = [line.rstrip(" \t") for line in lines]
    changed = sum(1 for a, b in zip(lines, stripped) if a != b and b.strip())
    body = "\n".join(stripped).strip("\n")
    return (body + "\n" if "\n" in body or text.endswith("\n") else body), changed


def version_of(value: Any) -> tuple[str | None, str | None]:
    """(full semver, note) for a legacy version; (None, reason) when it cannot be read.

    `versions.normalize_legacy` reads the version (also `v1.2`); this says what became of it.
    """
    if isinstance(value, bool) or (isinstance(value, (int, float)) and value < 0):
        return None, f"{value!r} is not a version"
    if not isinstance(value, (str, int, float)):
        return None, f"{shown(value)} is not a version"
    full = versions.normalize_legacy(value, v_prefix=True)
    if isinstance(value, int):
        return full, f"version {value} -> {full}"
    if isinstance(value, float):
        if full is None:
            return None, f"{value!r} is not a version"
        return (
            full,
            f"version {value!r} (an unquoted number) -> {full}: check it was not written with a trailing zero, e.g. 1.10",
        )
    text = value.strip()
    if full is None:
        return None, f"{value!r} is not a version (expected MAJOR.MINOR.PATCH, e.g. 1.0.0)"
    if full == text:  # already a full version
        return full, None if text == value else f"version {value!r} -> {text}"
    return full, f"version {value} -> {full}"


class Reading:
    """One upgrade's reading of a lesson: the options it runs with, and the notes and problems found.

    Every mapping function takes it first and reports through it, so nothing is dropped silently.
    """

    def __init__(
        self,
        drop_fields: frozenset[str],
        user_text_types: frozenset[str],
        defaults: dict[str, int] | None = None,
    ) -> None:
        self.defaults = defaults or {}
        self.drop_fields = drop_fields
        self.user_text_types = user_text_types
        self.notes: list[str] = []
        self.problems: list[str] = []
        self.trimmed_lines = 0

    def problem(self, where: str, why: str) -> None:
        self.problems.append(f"{where}: {why}")

    def note(self, text: str) -> None:
        self.notes.append(text)

    def leftover(self, mapping: dict[str, Any], used: Iterable[str | None], *parts: Any) -> None:
        """Report (or drop, when allowed or empty) the keys of `mapping` that were not mapped."""
        mapped = set(used)
        for key, value in mapping.items():
            if key in mapped:
                continue
            where = json_path(*parts, key)
            if is_empty(value):
                self.note(f"{where}: dropped (empty)")
            elif key in self.drop_fields:
                self.note(f"{where}: dropped {shown(value, 40)} (--drop-field {key})")
            else:
                self.problem(
                    where,
                    f"{shown(value, 40)} has no place in the current format (allow dropping it with --drop-field {key})",
                )

    def text(self, value: Any, where: str, *, required: bool = True) -> str | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.problem(where, "is missing or empty; the current format needs it")
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.problem(where, f"{shown(value)} is not text")
            return None
        if not isinstance(value, str):
            self.note(f"{where}: number {value!r} written as text")
            value = str(value)
        cleaned, trimmed = clean_text(value)
        self.trimmed_lines += trimmed
        return cleaned

    def line(self, value: Any, where: str, *, required: bool = True) -> str | None:
        """A one-line text (title, prompt, option, objective): surrounding spaces trimmed."""
        text = self.text(value, where, required=required)
        return text.strip() if text is not None and "\n" not in text.strip() else text

    def integer(self, value: Any, where: str) -> int | None:
        if isinstance(value, bool):
            self.problem(where, f"{value!r} is not a whole number")
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            self.note(f"{where}: {value!r} -> {int(value)}")
            return int(value)
        if isinstance(value, str) and value.strip().isdigit():
            self.note(f"{where}: {value!r} -> {int(value)}")
            return int(value)
        self.problem(where, f"{shown(value)} is not a whole number")
        return None
