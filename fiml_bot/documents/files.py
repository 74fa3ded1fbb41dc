"""Reading and writing progress documents: strict JSON in, atomic writes out, `-` for stdin/stdout."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, TextIO

from fiml_cms.errors import UsageError

from .schema import InvalidDocument, Problem

STDIO = "-"
#: A progress document nests about 6 levels; anything far deeper is not one.
MAX_DEPTH = 32


class _DuplicateKey(ValueError):
    pass


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_document(text: str, source: str) -> Any:
    """JSON text as Python values; InvalidDocument (with line and column) for anything that is not
    strict JSON: a syntax error, NaN or Infinity, a key repeated in one object, or nesting deeper than
    MAX_DEPTH (the parser recurses, so `[[[[...` would otherwise end in a RecursionError)."""
    try:
        document = json.loads(text, object_pairs_hook=_object, parse_constant=_no_constant)
    except RecursionError:
        raise InvalidDocument(source, _too_deep()) from None
    except json.JSONDecodeError as error:
        raise InvalidDocument(
            source, f"not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}"
        ) from None
    except _DuplicateKey as error:
        raise InvalidDocument(
            source,
            f"not valid JSON for a progress document: the key {error.args[0]!r} appears twice in one object",
        ) from None
    except ValueError as error:
        raise InvalidDocument(source, f"not valid JSON: {error}") from None
    if _depth(document) > MAX_DEPTH:
        raise InvalidDocument(source, _too_deep())
    unstorable = unstorable_text(document)
    if unstorable:
        raise UnstorableText(source, unstorable)
    return document


class UnstorableText(InvalidDocument):
    """Text no database here can store (a NUL: PostgreSQL refuses it; a lone surrogate: not Unicode
    SQLite can encode): bad input rather than a finding, so exit 2, naming each field."""

    exit_code = 2


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored, or None."""
    if "\x00" in value:
        return "contains a NUL character (\\u0000), which the database cannot store"
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        return "contains a lone surrogate (an unpaired \\ud800-\\udfff escape): not valid Unicode text"
    return None


def unstorable_text(document: Any) -> list[Problem]:
    """Every key or string in `document` that no database can store, with its path (iterative)."""
    found = []
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(document, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                problem = text_problem(key)
                if problem is not None:
                    found.append(Problem((*path, key), f"key {problem}"))
                stack.append((value, (*path, key)))
        elif isinstance(node, list):
            stack.extend((value, (*path, i)) for i, value in enumerate(node))
        elif isinstance(node, str):
            problem = text_problem(node)
            if problem is not None:
                found.append(Problem(path, problem))
    return sorted(found, key=lambda p: p.where)


def _too_deep() -> str:
    return f"nested more than {MAX_DEPTH} levels deep (a progress document needs about 6)"


def _depth(value: Any) -> int:
    """How deeply `value` nests lists and objects (iterative, so it cannot overflow the stack)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, depth)
            if depth <= MAX_DEPTH:
                stack.extend(
                    (child, depth + 1) for child in (node.values() if isinstance(node, dict) else node)
                )
    return deepest


def read_document(source: str, stdin: TextIO | None = None) -> Any:
    """The document in the file `source` (`-`: standard input).

    A missing or unreadable file is a UsageError (exit 2); a file that is not JSON InvalidDocument (exit 1).
    """
    if source == STDIO:
        text = (stdin or sys.stdin).read()
        return parse_document(text, "<stdin>")
    path = Path(source)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{source}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{source}: is a folder, not a file") from None
    except OSError as error:
        raise UsageError(f"{source}: cannot be read: {error.strerror}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidDocument(source, f"not UTF-8 text (byte {error.start})") from None
    return parse_document(text, source)


def render(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write_document(target: str, document: Any, stdout: TextIO | None = None) -> None:
    """Write `document` as JSON to `target` (`-`: standard output).

    A file is written atomically: a temporary file in the same folder, flushed to disk, then renamed
    over the target, so a reader (or a crash) never sees half a document. New files are readable by
    the owner only (0600): progress documents are personal data.
    """
    text = render(document)
    if target == STDIO:
        out = stdout or sys.stdout
        out.write(text)
        out.flush()
        return
    path = Path(target)
    folder = path.parent
    if not folder.is_dir():
        raise UsageError(f"{target}: the folder {folder} does not exist")
    if path.is_dir():
        raise UsageError(f"{target}: is a folder, not a file")
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as error:
        raise UsageError(f"{target}: cannot write in {folder}: {error.strerror}") from None
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o777)  # replacing a file keeps its permissions
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
