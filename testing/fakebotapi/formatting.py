"""Telegram's text rules: the HTML parse mode, UTF-16 lengths, whitespace trimming.

The HTML parser follows tdlib's `parse_html` (td/telegram/MessageEntity.cpp), which is what the Bot API
server runs: only `&lt; &gt; &amp; &quot;` and numeric references are decoded (any other `&` stays
literal), every `<` starts a tag, unknown tags are errors, tags must nest. The error texts are tdlib's,
so a test sees what Telegram would answer after "Bad Request: can't parse entities: ".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPACES = " \t\r\n\v\f\0"
_PLAIN_RUN = re.compile(r"[^<&]+")  # text up to the next tag or character reference

_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "tg-emoji": "custom_emoji",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}

_NAMED_REFERENCES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class EntityParseError(ValueError):
    """The text is not valid in the requested parse mode; the message is tdlib's."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's entity offsets."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _Open:
    tag: str
    argument: str
    offset: int  # UTF-16 offset in the result where the entity starts
    byte_offset: int


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _decode_reference(text: str, pos: int) -> tuple[str, int] | None:
    """Decode the character reference starting at text[pos] == '&'; None if tdlib keeps the '&' literal."""
    end = pos + 1
    if text.startswith("#", end):
        end += 1
        value = 0
        if text.startswith("x", end):
            end += 1
            while end < len(text) and text[end] in "0123456789abcdefABCDEF":
                value = value * 16 + int(text[end], 16)
                end += 1
        else:
            while end < len(text) and text[end].isascii() and text[end].isdigit():
                value = value * 10 + int(text[end])
                end += 1
        if value == 0 or value >= 0x10FFFF or end - pos >= 10 or 0xD800 <= value <= 0xDFFF:
            return None
        char = chr(value)
    else:
        while end < len(text) and text[end].isascii() and text[end].isalpha():
            end += 1
        char = _NAMED_REFERENCES.get(text[pos + 1 : end])
        if char is None:
            return None
    if text.startswith(";", end):
        end += 1
    return char, end


def _skip_spaces(text: str, i: int) -> int:
    while i < len(text) and text[i] in _SPACES:
        i += 1
    return i


def _parse_start_tag(text: str, begin: int) -> tuple[str, str, int]:
    """Parse `<tag attr=...>` at text[begin]; returns (tag name, entity argument, index after '>')."""
    i = begin + 1
    while i < len(text) and text[i] not in _SPACES and text[i] != ">":
        i += 1
    if i >= len(text):
        raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
    tag = text[begin + 1 : i].lower()
    if tag not in _ENTITY_TYPES:
        raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset {_byte_offset(text, begin)}')
    argument = ""
    while True:
        i = _skip_spaces(text, i)
        if i >= len(text):
            raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
        if text[i] == ">":
            break
        name_begin = i
        while i < len(text) and text[i] not in _SPACES and text[i] not in "=>":
            i += 1
        name = text[name_begin:i].lower()
        i = _skip_spaces(text, i)
        if i < len(text) and text[i] != "=":
            if tag == "blockquote" and name == "expandable":
                argument = "expandable"
                continue
            raise EntityParseError(
                f'Expected equal sign in declaration of attribute of the tag "{tag}" '
                f"at byte offset {_byte_offset(text, begin)}"
            )
        i = _skip_spaces(text, i + 1)
        if i >= len(text):
            raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
        value, i = _parse_attribute_value(text, i)
        if i >= len(text):
            raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
        if tag == "a" and name == "href":
            argument = value
        elif tag == "span" and name == "class" and value.startswith("tg-"):
            argument = value[3:]
        elif tag == "tg-emoji" and name == "emoji-id":
            argument = value
        elif tag == "code" and name == "class" and value.startswith("language-"):
            argument = value[len("language-") :]
    if tag == "span" and argument != "spoiler":
        raise EntityParseError(
            f'Tag "span" must have class "tg-spoiler" at byte offset {_byte_offset(text, begin)}'
        )
    if tag == "tg-emoji" and not argument:
        raise EntityParseError(
            f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset {_byte_offset(text, begin)}'
        )
    return tag, argument, i + 1


def _parse_attribute_value(text: str, i: int) -> tuple[str, int]:
    if text[i] not in "'\"":
        begin = i
        while i < len(text) and ((text[i].isascii() and text[i].isalnum()) or text[i] in ".-"):
            i += 1
        if i < len(text) and text[i] not in _SPACES and text[i] != ">":
            raise EntityParseError(f"Unexpected end of name token at byte offset {_byte_offset(text, begin)}")
        return text[begin:i].lower(), i
    quote = text[i]
    i += 1
    value: list[str] = []
    while i < len(text) and text[i] != quote:
        if text[i] == "&":
            decoded = _decode_reference(text, i)
            if decoded is not None:
                value.append(decoded[0])
                i = decoded[1]
                continue
        value.append(text[i])
        i += 1
    if i < len(text):
        i += 1
    return "".join(value), i


def _entity(tag: str, argument: str, offset: int, length: int, inner: str) -> dict:
    kind = _ENTITY_TYPES[tag]
    entity: dict = {"type": kind, "offset": offset, "length": length}
    if tag == "a":
        url = argument or inner
        if url.startswith("tg://user?id=") and url[len("tg://user?id=") :].isdigit():
            entity = {
                "type": "text_mention",
                "offset": offset,
                "length": length,
                "user": {"id": int(url[len("tg://user?id=") :]), "is_bot": False, "first_name": ""},
            }
        else:
            entity["url"] = url
    elif tag == "tg-emoji":
        entity["custom_emoji_id"] = argument
    elif tag == "code" and argument:
        entity["language"] = argument  # kept only if the code sits in a pre, see _merge_pre_code
    elif tag == "blockquote" and argument == "expandable":
        entity["type"] = "expandable_blockquote"
    return entity


def parse_html(text: str) -> tuple[str, list[dict]]:
    """Telegram's HTML parse mode: the plain text and its entities (offsets in UTF-16 code units).

    Raises EntityParseError with tdlib's message for text Telegram would reject.
    """
    result: list[str] = []
    offset = 0  # UTF-16 length of the result so far
    entities: list[dict] = []
    stack: list[_Open] = []
    starts: list[int] = []  # index into `result` where each open entity starts
    i = 0
    while i < len(text):
        c = text[i]
        if c == "&":
            decoded = _decode_reference(text, i)
            if decoded is not None:
                result.append(decoded[0])
                offset += utf16_len(decoded[0])
                i = decoded[1]
                continue
        if c == "&":  # not a reference Telegram decodes: a literal ampersand
            result.append(c)
            offset += 1
            i += 1
            continue
        if c != "<":
            run = _PLAIN_RUN.match(text, i).group()  # type: ignore[union-attr]
            result.append(run)
            offset += utf16_len(run)
            i += len(run)
            continue
        begin = i
        if text.startswith("/", i + 1):
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {_byte_offset(text, begin)}")
            i += 2
            while i < len(text) and text[i] not in _SPACES and text[i] != ">":
                i += 1
            end_name = text[begin + 2 : i].lower()
            i = _skip_spaces(text, i)
            if i >= len(text) or text[i] != ">":
                raise EntityParseError(f"Unclosed end tag at byte offset {_byte_offset(text, begin)}")
            i += 1
            opened = stack.pop()
            start_index = starts.pop()
            if end_name and end_name != opened.tag:
                raise EntityParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(text, begin)}, "
                    f'expected "</{opened.tag}>", found "</{end_name}>"'
                )
            length = offset - opened.offset
            if length > 0:
                inner = "".join(result[start_index:])
                entities.append(_entity(opened.tag, opened.argument, opened.offset, length, inner))
            continue
        tag, argument, i = _parse_start_tag(text, begin)
        stack.append(_Open(tag, argument, offset, _byte_offset(text, begin)))
        starts.append(len(result))
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    return "".join(result), _merge_pre_code(entities)


def _merge_pre_code(entities: list[dict]) -> list[dict]:
    """`<pre><code class="language-x">` is one pre entity with a language, as in Telegram."""
    pres = {(e["offset"], e["length"]): e for e in entities if e["type"] == "pre"}
    merged = []
    for entity in entities:
        pre = pres.get((entity["offset"], entity["length"])) if entity["type"] == "code" else None
        if pre is not None:
            if entity.get("language"):
                pre["language"] = entity["language"]
            continue
        if entity["type"] == "code":
            entity.pop("language", None)
        merged.append(entity)
    return sorted(merged, key=lambda e: (e["offset"], -e["length"]))


def strip_text(text: str, entities: list[dict]) -> tuple[str, list[dict]]:
    """Trim leading and trailing whitespace as Telegram does, moving and clipping the entities."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    if not stripped:
        return "", []
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


def command_entities(text: str) -> list[dict]:
    """The `bot_command` entity Telegram adds to a user's message that starts with a /command."""
    if not text.startswith("/"):
        return []
    end = 1
    while end < len(text) and not text[end].isspace():
        end += 1
    if end == 1:
        return []
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(text[:end])}]
