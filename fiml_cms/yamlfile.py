"""The one place that knows YAML libraries.

Loading is split for speed: every file is parsed with PyYAML's C safe loader (libyaml), set
up for YAML 1.2's core schema so it agrees with ruamel.yaml; node positions are only looked up,
by a compose, for files that have findings. ruamel.yaml does the edits that must keep every
other byte (bump) and the dumps of new files (upgrade).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from .findings import JsonPath


@dataclass
class YamlProblem(Exception):
    """A file that libyaml or the constructor refused, with a 1-based position."""

    code: str
    message: str
    line: int
    column: int
    fixed_line: str | None = None  # the line as the hint asks it to be written, when the hint names one


@cache
def _loader() -> Any:
    """A CSafeLoader with YAML 1.2 core-schema scalars, duplicate-key errors and lenient dates."""
    import yaml
    from yaml.constructor import ConstructorError

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class LessonLoader(base):  # type: ignore[misc, valid-type]
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            if isinstance(node, yaml.MappingNode):
                seen: dict[Any, Any] = {}
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                        continue
                    key = self.construct_object(key_node)
                    if key in seen:
                        raise ConstructorError(
                            "while constructing a mapping",
                            node.start_mark,
                            f'found duplicate key "{key_node.value}" (first at line {seen[key].line + 1})',
                            key_node.start_mark,
                        )
                    seen[key] = key_node.start_mark
            return super().construct_mapping(node, deep)

        def construct_yaml_timestamp(self, node: Any) -> Any:
            try:
                return super().construct_yaml_timestamp(node)
            except (ValueError, OverflowError):
                return self.construct_scalar(node)

        def construct_yaml_int(self, node: Any) -> int:
            text = self.construct_scalar(node)
            sign, digits = (-1, text[1:]) if text[0] == "-" else (1, text.lstrip("+"))
            if digits.startswith(("0x", "0o")):
                return sign * int(digits[2:], 16 if digits[1] == "x" else 8)
            return sign * int(digits)

    LessonLoader.add_constructor("tag:yaml.org,2002:timestamp", LessonLoader.construct_yaml_timestamp)
    LessonLoader.add_constructor("tag:yaml.org,2002:int", LessonLoader.construct_yaml_int)
    LessonLoader.yaml_implicit_resolvers = {}
    for tag, pattern, first in (
        ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
        ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
        ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
        (
            "float",
            r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
            "-+.0123456789",
        ),
        (
            "timestamp",
            r"^(?:[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?)$",
            "0123456789",
        ),
        ("merge", r"^(?:<<)$", "<"),
    ):
        LessonLoader.add_implicit_resolver(f"tag:yaml.org,2002:{tag}", re.compile(pattern), list(first))
    return LessonLoader


def load(text: str) -> Any:
    """Parse one YAML document into plain Python values, or raise `YamlProblem`."""
    import yaml

    try:
        return yaml.load(text, Loader=_loader())
    except yaml.reader.ReaderError as exc:
        before = text[: exc.position]
        line, col = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        raise YamlProblem(
            "FIML001",
            f"the character {exc.character!r} (U+{ord(exc.character) if isinstance(exc.character, str) else exc.character:04X}) is not allowed in YAML text",
            line,
            col,
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        quote = _unclosed_quote(text, exc)
        if quote is not None:
            raise quote from None
        code = "FIML002" if exc.problem and exc.problem.startswith("found duplicate key") else "FIML001"
        parts = (exc.problem,) if code == "FIML002" else (exc.problem, exc.context and f"({exc.context})")
        message = " ".join(p for p in parts if p) or "invalid YAML"
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        fixed = None
        if code == "FIML001":
            source_line = text.splitlines()[line - 1] if 0 < line <= len(text.splitlines()) else ""
            message += parse_hint(exc.problem or "", source_line)
            fixed = quoted_line(exc.problem or "", source_line)
        raise YamlProblem(code, message, line, col, fixed) from None
    except yaml.YAMLError as exc:
        raise YamlProblem("FIML001", _first_line(str(exc)), 1, 1) from None
    except RecursionError:
        raise YamlProblem("FIML001", "the document is nested too deeply", 1, 1) from None
    except (ValueError, TypeError, OverflowError) as exc:
        # libyaml accepted the text but a value could not be built (e.g. an odd tagged scalar)
        raise YamlProblem("FIML001", f"a value cannot be read: {_first_line(str(exc))}", 1, 1) from None


_KEY_VALUE = re.compile(r"^(\s*(?:-\s+)?[\w-]+):\s+(.*?)\s*$")
_FIELD_LINE = re.compile(r"^\s*(?:-\s+)?[A-Za-z_][\w-]*:(?:\s|$)")


def _unclosed_quote(text: str, exc: Any) -> YamlProblem | None:
    """The quote an author forgot to close, where the construct starts rather than where libyaml gave up.

    A quoted scalar may span lines in YAML, so `title: "Bond Basics` swallows the following fields up
    to the next quote and the parser complains lines later. A quoted scalar that runs across lines that
    read as fields (`key: value`) is that mistake; the line where the parser gave up is kept as context.
    """
    import yaml

    gave_up = exc.problem_mark or exc.context_mark
    lines = text.splitlines()
    if exc.context == "while scanning a quoted scalar" and exc.context_mark is not None:
        start = exc.context_mark  # the text ended inside the quotes
        return _quote_problem(start.line + 1, start.column + 1, gave_up, "the file ends inside it")
    try:
        for token in yaml.scan(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
            if not isinstance(token, yaml.ScalarToken) or token.style not in ('"', "'"):
                continue
            first, last = token.start_mark.line, token.end_mark.line
            if gave_up is not None and first > gave_up.line:
                break
            if last > first and any(_FIELD_LINE.match(line) for line in lines[first + 1 : last + 1]):
                return _quote_problem(
                    first + 1,
                    token.start_mark.column + 1,
                    gave_up,
                    "the text runs on into the fields below it",
                )
    except yaml.YAMLError:
        return None
    return None


def _quote_problem(line: int, column: int, gave_up: Any, why: str) -> YamlProblem:
    where = f"; the parser gave up at line {gave_up.line + 1}, column {gave_up.column + 1}" if gave_up else ""
    return YamlProblem(
        "FIML001",
        f"this quote is never closed: {why}; close it on this line{where}",
        line,
        column,
    )


def quoted_line(problem: str, line: str) -> str | None:
    """The line with its value in quotes, for the "quote a value that contains ': '" hint."""
    if "mapping values are not allowed" not in problem:
        return None
    match = _KEY_VALUE.match(line)
    if not match or ": " not in match.group(2) or '"' in match.group(2):
        return None
    return f'{match.group(1)}: "{match.group(2)}"'


def parse_hint(problem: str, line: str) -> str:
    """What to do about libyaml's most common complaints, in an author's words ('' if no advice)."""
    if "mapping values are not allowed" in problem:
        match = _KEY_VALUE.match(line)
        if match and ": " not in match.group(2):
            return "; check the indentation of this line: it is indented more than the field above it (use spaces, and line fields up)"
        example = (
            f' ({match.group(1).strip()}: "{match.group(2)}")' if match and '"' not in match.group(2) else ""
        )
        return f"; quote a value that contains ': '{example}"
    if "\\t" in problem or "\t" in problem:
        return "; indent with spaces, not tabs"
    if (
        "could not find expected ':'" in problem
        or "did not find expected key" in problem
        or "expected <block end>" in problem
        or "expected '-'" in problem
    ):
        return "; check the indentation: fields of one mapping and items of one list line up, indented with spaces"
    if "found unexpected end of stream" in problem or "while scanning a quoted scalar" in problem:
        return "; a quote is not closed"
    return ""


_TOP_LEVEL_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*)[ \t]*:(?=[ \t\r\n]|$)", re.M)
_INT = re.compile(r"[-+]?[0-9]+")
_NOT_PLAIN_TEXT = re.compile(
    r"^[-?:,\[\]{}#&*!|>'\"%@`\s]|: |:$| #|\s$|^[-+.0-9]|^(?:~|null|Null|NULL|true|True|TRUE|false|False|FALSE|\.\w+)$"
)
_LIST_ITEM = re.compile(
    r'\s*(?:"([^"\\]*)"|\'([^\']*)\'|([A-Za-z_][A-Za-z0-9_.-]*|[0-9]+\.[0-9]+\.[0-9][A-Za-z0-9_.+-]*))\s*'
)
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}


class _NotSimple(Exception):
    """A value the quick reader leaves to the YAML parser."""


def load_fields(text: str, keys: frozenset[str]) -> dict[str, Any]:
    """Only the top-level `keys` of a mapping document: a catalogue of thousands of lessons needs a
    title and a few lists, not every section.

    One-line values in their plain forms (text, quoted text without escapes, integers, booleans,
    flow lists of names and versions) are read directly; anything else (a block list, a multi-line
    string, a comment) makes the lines of those keys go through the YAML parser, which gives the
    same values. Raises `YamlProblem` for invalid YAML there. Callers check what they get against
    what they know (the id, the version) and parse the whole file when it disagrees.
    """
    lines = text.split("\n")
    found: dict[str, Any] = {}
    try:
        for number, line in enumerate(lines):
            if not line[:1].isalpha() and line[:1] != "_":
                continue
            key, colon, rest = line.partition(":")
            if not colon or key not in keys:
                continue
            following = lines[number + 1][:1] if number + 1 < len(lines) else ""
            if key in found or following in (" ", "\t"):
                raise _NotSimple(key)
            found[key] = _simple_value(rest.strip())
    except _NotSimple:
        return _load_fields_parsed(text, keys)
    return found


def _simple_value(value: str) -> Any:
    if value in _BOOLS:
        return _BOOLS[value]
    if _INT.fullmatch(value):
        return int(value)
    if (
        value[:1] == '"'
        and value[-1:] == '"'
        and len(value) > 1
        and '"' not in value[1:-1]
        and "\\" not in value
    ):
        return value[1:-1]
    if value[:1] == "'" and value[-1:] == "'" and len(value) > 1 and "'" not in value[1:-1]:
        return value[1:-1]
    if value[:1] == "[" and value[-1:] == "]":
        inner = value[1:-1]
        if not inner.strip():
            return []
        items = []
        for part in inner.split(","):
            match = _LIST_ITEM.fullmatch(part)
            if match is None or match.group(3) in _BOOLS or match.group(3) in ("null", "Null", "NULL"):
                raise _NotSimple(value)
            items.append(next(g for g in match.groups() if g is not None))
        return items
    if not value or _NOT_PLAIN_TEXT.search(value):
        raise _NotSimple(value)
    return value


def _load_fields_parsed(text: str, keys: frozenset[str]) -> dict[str, Any]:
    """`load_fields` through the YAML parser: the lines of each wanted top-level key, parsed together."""
    starts = [(m.start(), m.group(1)) for m in _TOP_LEVEL_KEY.finditer(text)]
    pieces = []
    for n, (start, key) in enumerate(starts):
        if key in keys:
            piece = text[start : starts[n + 1][0] if n + 1 < len(starts) else len(text)]
            pieces.append(piece if piece.endswith("\n") else piece + "\n")
    data = load("".join(pieces)) if pieces else {}
    return data if isinstance(data, dict) else {}


def _first_line(text: str | None) -> str:
    return (text or "invalid YAML").strip().splitlines()[0]


def locate(
    text: str, wanted: Iterable[tuple[JsonPath, bool]]
) -> dict[tuple[JsonPath, bool], tuple[int, int]]:
    """Map (JSON path, at_key) to the 1-based line and column of that node in `text`.

    A path that does not exist (a missing field) resolves to the deepest node that does,
    which is where an author would add it.
    """
    import yaml

    try:
        root = yaml.compose(text, Loader=_loader())
    except Exception:
        root = None
    positions: dict[tuple[JsonPath, bool], tuple[int, int]] = {}
    for path, at_key in wanted:
        node, key_node = root, None
        for part in path:
            child, child_key = None, None
            if isinstance(node, yaml.MappingNode):
                for k, v in node.value:
                    if str(k.value) == str(part):
                        child, child_key = v, k
                        break
            elif (
                isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value)
            ):
                child = node.value[part]
            if child is None:
                break
            node, key_node = child, child_key
        target = key_node if (at_key and key_node is not None) else node
        mark = target.start_mark if target is not None else None
        positions[(path, at_key)] = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return positions


@cache
def _safe_yaml() -> Any:
    """ruamel.yaml's C safe composer, for edits that need node styles and positions."""
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=False)


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
    entry = [
        f'{pad}-{" " * (first.start_mark.column - dash_column - 1)}version: "{version}"',
        f"{inner}date: {date}",
        f"{inner}changes:",
    ]
    entry += [f"{inner}  - {_quote(change)}" for change in changes]
    insert_at = _offset(lines, first.start_mark.line, 0)
    start = _offset(lines, version_node.start_mark.line, version_node.start_mark.column)
    end = _offset(lines, version_node.end_mark.line, version_node.end_mark.column)
    quote = version_node.style if version_node.style in ("'", '"') else '"'
    new_text = (
        text[:start]
        + f"{quote}{version}{quote}"
        + text[end:insert_at]
        + newline.join(entry)
        + newline
        + text[insert_at:]
    )
    if start > insert_at:  # `version` written after `changelog`: apply the edits the other way round
        shifted = text[:insert_at] + newline.join(entry) + newline + text[insert_at:]
        delta = len(shifted) - len(text)
        new_text = shifted[: start + delta] + f"{quote}{version}{quote}" + shifted[end + delta :]
    return new_text


def _quote(text: str) -> str:
    """A YAML double-quoted scalar (JSON string syntax is valid YAML)."""
    import json

    return json.dumps(text, ensure_ascii=False)


#: Characters that only survive a round trip escaped in a double-quoted scalar.
@cache
def _needs_escapes() -> re.Pattern[str]:
    """Compiled on first use (writing), not at import: the class spans Unicode and costs ~4 ms to
    compile on every `fiml-cms validate`, which never writes."""
    return re.compile("[^\t\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def dump_lesson(data: dict[str, Any]) -> str:
    """A lesson as block-style YAML that `load` reads back to exactly `data`.

    Multi-line text becomes a literal block (`|`), nothing is wrapped, versions are quoted,
    Unicode is kept, and lists are indented under their key (`key:` / `  - item`).
    """
    import io

    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString

    def text(value: str, quoted: bool) -> Any:
        # Line breaks other than \n (\r, NEL, U+2028/9) and control characters only survive
        # escaped, in double quotes; a tab in a literal block could read as indentation (FIML005).
        if quoted or _needs_escapes().search(value):
            return DoubleQuotedScalarString(value)
        if "\n" in value and "\t" not in value:
            return LiteralScalarString(value)
        return value

    def convert(value: Any, key: Any = None) -> Any:
        if isinstance(value, dict):
            out = CommentedMap()
            for k, v in value.items():
                out[k] = convert(v, k)
            return out
        if isinstance(value, list):
            seq = CommentedSeq()
            for item in value:
                seq.append(convert(item, key if key == "yanked" else None))
            return seq
        if isinstance(value, str):
            return text(value, key in ("version", "yanked"))
        return value

    yaml = YAML(typ="rt", pure=True)
    yaml.default_flow_style = False
    yaml.allow_unicode = True
    yaml.width = 1_000_000_000
    yaml.indent(mapping=2, sequence=4, offset=2)
    stream = io.StringIO()
    yaml.dump(convert(data), stream)
    return stream.getvalue()


def add_yanked_text(text: str, added: list[str]) -> str:
    """Append versions to the top-level `yanked:` list (creating it before `changelog:` if absent).

    Like `bump_text`, an edit of the text at the composer's positions: a flow list (`[]`,
    `["1.0.0"]`) grows inside its brackets, a block list gets `- "x"` lines in its own indentation.
    """
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

    if not added:
        return text
    root = _safe_yaml().compose(text)
    if not isinstance(root, MappingNode):
        raise EditError("the top level is not a mapping")
    values = {k.value: (k, v) for k, v in root.value if isinstance(k, ScalarNode)}
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    quoted = [f'"{v}"' for v in added]
    if "yanked" not in values:
        if "changelog" not in values:
            raise EditError("the lesson needs a `changelog` list")
        key = values["changelog"][0]
        at = _offset(lines, key.start_mark.line, 0)
        return (
            text[:at] + " " * key.start_mark.column + f"yanked: [{', '.join(quoted)}]" + newline + text[at:]
        )
    node = values["yanked"][1]
    if not isinstance(node, SequenceNode):
        raise EditError("`yanked` is not a list")
    end = _offset(lines, node.end_mark.line, node.end_mark.column)
    if node.flow_style:
        close = text.rfind("]", 0, end)
        if close < 0:
            raise EditError("cannot find the end of the `yanked: [...]` list")
        separator = ", " if node.value else ""
        return text[:close] + separator + ", ".join(quoted) + text[close:]
    first, last = node.value[0], node.value[-1]
    dash_column = lines[first.start_mark.line].rfind("-", 0, first.start_mark.column)
    if dash_column < 0:
        raise EditError("the first `yanked` item does not start with `- `")
    line = last.end_mark.line - (1 if last.end_mark.column == 0 else 0)  # the item's last line
    at = _offset(lines, line + 1, 0) if line + 1 < len(lines) else len(text)
    lead = "" if text[:at].endswith("\n") else newline
    return text[:at] + lead + "".join(" " * dash_column + f"- {q}" + newline for q in quoted) + text[at:]
