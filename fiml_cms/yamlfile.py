"""The one place that knows ruamel.yaml.

Loading is split for speed: every file is parsed with the C safe loader (libyaml via
ruamel.yaml.clib); node positions are only looked up, by a second compose, for files that
have findings.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable

from .findings import JsonPath

#: Deeper nesting than this is refused before construction: no lesson needs it, and the
#: C composer recurses, so a hostile file could otherwise exhaust the stack.
MAX_DEPTH = 100
_STRUCTURE_CHARS = ("[", "{", "-", "?", ":")


@dataclass(frozen=True)
class YamlProblem(Exception):
    """A file that libyaml or the constructor refused, with a 1-based position."""

    code: str
    message: str
    line: int
    column: int


@lru_cache(maxsize=None)
def _safe_yaml() -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.constructor import SafeConstructor

    class LessonConstructor(SafeConstructor):
        """Keeps an impossible date (2024-13-45) as text, so the schema reports it with a position."""

        def construct_yaml_timestamp(self, node: Any, values: Any = None) -> Any:
            try:
                return super().construct_yaml_timestamp(node, values)
            except (ValueError, OverflowError):
                return self.construct_scalar(node)

    LessonConstructor.add_constructor("tag:yaml.org,2002:timestamp", LessonConstructor.construct_yaml_timestamp)
    try:
        yaml = YAML(typ="safe", pure=False)
    except Exception:  # pragma: no cover - ruamel.yaml.clib missing: correct, only slower
        yaml = YAML(typ="safe", pure=True)
    yaml.Constructor = LessonConstructor
    return yaml


def load(text: str) -> Any:
    """Parse one YAML document into plain Python values, or raise `YamlProblem`."""
    from ruamel.yaml.constructor import DuplicateKeyError
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = _safe_yaml()
    try:
        _check_depth(yaml, text)
        return yaml.load(text)
    except DuplicateKeyError as exc:
        mark = exc.problem_mark
        raise YamlProblem("FIML002", _first_line(exc.problem), mark.line + 1, mark.column + 1) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        text_ = " ".join(p for p in (exc.problem, exc.context and f"({exc.context})") if p)
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise YamlProblem("FIML001", text_ or "invalid YAML", line, col) from None
    except YAMLError as exc:
        raise YamlProblem("FIML001", _first_line(str(exc)), 1, 1) from None
    except RecursionError:
        raise YamlProblem("FIML001", "the document is nested too deeply", 1, 1) from None
    except (ValueError, TypeError, OverflowError) as exc:
        # libyaml accepted the text but a value could not be built (e.g. an odd tagged scalar)
        raise YamlProblem("FIML001", f"a value cannot be read: {_first_line(str(exc))}", 1, 1) from None


def _check_depth(yaml: Any, text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH, scanning events only when it is possible."""
    bound = sum(text.count(ch) for ch in _STRUCTURE_CHARS) + 1
    if bound <= MAX_DEPTH:
        return
    from ruamel.yaml.events import CollectionEndEvent, CollectionStartEvent

    depth = 0
    for event in yaml.parse(text):
        if isinstance(event, CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                mark = event.start_mark
                raise YamlProblem(
                    "FIML001",
                    f"the document is nested more than {MAX_DEPTH} levels deep",
                    mark.line + 1,
                    mark.column + 1,
                )
        elif isinstance(event, CollectionEndEvent):
            depth -= 1


def _first_line(text: str | None) -> str:
    return (text or "invalid YAML").strip().splitlines()[0]


def locate(text: str, wanted: Iterable[tuple[JsonPath, bool]]) -> dict[tuple[JsonPath, bool], tuple[int, int]]:
    """Map (JSON path, at_key) to the 1-based line and column of that node in `text`.

    A path that does not exist (a missing field) resolves to the deepest node that does,
    which is where an author would add it.
    """
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    try:
        root = _safe_yaml().compose(text)
    except Exception:
        root = None
    positions: dict[tuple[JsonPath, bool], tuple[int, int]] = {}
    for path, at_key in wanted:
        node, key_node = root, None
        for part in path:
            child, child_key = None, None
            if isinstance(node, MappingNode):
                for k, v in node.value:
                    if str(k.value) == str(part):
                        child, child_key = v, k
                        break
            elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
                child = node.value[part]
            if child is None:
                break
            node, key_node = child, child_key
        target = key_node if (at_key and key_node is not None) else node
        mark = target.start_mark if target is not None else None
        positions[(path, at_key)] = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return positions


class EditError(Exception):
    """The file's layout does not allow a safe in-place edit."""


def _offset(lines: list[str], line: int, column: int) -> int:
    return sum(len(x) for x in lines[:line]) + column


def bump_text(text: str, version: str, date: str, changes: list[str]) -> str:
    """Set `version:` and prepend a changelog entry, leaving every other byte as it was.

    The edit is made on the text at the positions ruamel.yaml's composer reports, not by
    re-dumping the document, so comments, quoting, key order and blank lines stay untouched.
    """
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

    root = _safe_yaml().compose(text)
    if not isinstance(root, MappingNode):
        raise EditError("the top level is not a mapping")
    values = {k.value: (k, v) for k, v in root.value if isinstance(k, ScalarNode)}
    if "version" not in values or "changelog" not in values:
        raise EditError("the lesson needs a `version` field and a `changelog` list")
    _, version_node = values["version"]
    _, changelog = values["changelog"]
    if not isinstance(version_node, ScalarNode):
        raise EditError("`version` is not a single value")
    if not isinstance(changelog, SequenceNode) or changelog.flow_style or not changelog.value:
        raise EditError("`changelog` must be a block list (one `- version: ...` entry per item) to be edited")
    lines = text.splitlines(keepends=True)
    first = changelog.value[0]
    item_line = lines[first.start_mark.line]
    dash_column = item_line.rfind("-", 0, first.start_mark.column)
    if dash_column < 0 or item_line[:dash_column].strip():
        raise EditError("the first changelog entry does not start on its own `- ` line")
    pad, inner = " " * dash_column, " " * first.start_mark.column
    newline = "\r\n" if item_line.endswith("\r\n") else "\n"
    entry = [f'{pad}-{" " * (first.start_mark.column - dash_column - 1)}version: "{version}"', f"{inner}date: {date}", f"{inner}changes:"]
    entry += [f"{inner}  - {_quote(change)}" for change in changes]
    insert_at = _offset(lines, first.start_mark.line, 0)
    start = _offset(lines, version_node.start_mark.line, version_node.start_mark.column)
    end = _offset(lines, version_node.end_mark.line, version_node.end_mark.column)
    quote = version_node.style if version_node.style in ("'", '"') else '"'
    new_text = text[:start] + f"{quote}{version}{quote}" + text[end:insert_at] + newline.join(entry) + newline + text[insert_at:]
    if start > insert_at:  # `version` written after `changelog`: apply the edits the other way round
        shifted = text[:insert_at] + newline.join(entry) + newline + text[insert_at:]
        delta = len(shifted) - len(text)
        new_text = shifted[: start + delta] + f"{quote}{version}{quote}" + shifted[end + delta:]
    return new_text


def _quote(text: str) -> str:
    """A YAML double-quoted scalar (JSON string syntax is valid YAML)."""
    import json

    return json.dumps(text, ensure_ascii=False)
