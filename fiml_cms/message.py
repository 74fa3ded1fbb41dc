"""The chat message a learner reads for a section or a question, and how Telegram measures it.

One definition shared by validation (FIML041 measures exactly this text), the tutor (sends it) and
the chat adapters (which only convert its Markdown subset to their markup). Before it existed, each
of them had its own idea of the message, and lessons that validated reached Telegram split in two.

The Markdown subset: **bold**, *italic* (or _italic_), `code`, paragraphs separated by blank lines.
Telegram's limits apply to the text after entity parsing, counted in UTF-16 code units.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from .asof import find_as_of
from .lesson import (
    ChangelogEntry,
    ChartSection,
    KeyPointsSection,
    LiveExampleSection,
    MultipleChoiceQuestion,
    NumericQuestion,
    Question,
    Section,
    TextSection,
)

LIMIT = 4096  # a text message
CAPTION_LIMIT = 1024  # a photo's caption
SEPARATOR = "\n\n———\n\n"  # between the feedback to an answer and what comes next
TYPE_A_NUMBER = "_Type your answer as a number._"
UNAVAILABLE = "Live data is not available right now, so here are the lesson's own figures"

_BOLD = re.compile(r"\*\*(.+?)\*\*", re.S)
_ITALIC = re.compile(r"(?<![\w*])[*_](?=\S)(.+?)(?<=\S)[*_](?![\w*])", re.S)
_CODE = re.compile(r"`([^`]+)`")
# Stand-ins while parsing: like the `<b>`/`</b>` tags they replace, neither word characters nor spaces,
# so the patterns see the same neighbours whatever the markup. Control characters: never shown.
_CODE_SPAN, _B_OPEN, _B_CLOSE, _I_OPEN, _I_CLOSE = "\x01", "\x02", "\x03", "\x04", "\x05"
_STAND_INS = re.compile("[\x01-\x05]")


@dataclass(frozen=True)
class Markup:
    """A platform's markup: how it escapes text and wraps bold, italic and code."""

    escape: Callable[[str], str]
    bold: Callable[[str], str]
    italic: Callable[[str], str]
    code: Callable[[str], str]


def convert(text: str, markup: Markup) -> str:
    """The Markdown subset in `markup`; everything else goes through `markup.escape`.

    Code is literal; bold and italic nest but never cross (`*a **b* c**` keeps the bold, and its
    stray `*` are shown), so every platform gets well-formed markup and the same visible text."""
    text = _STAND_INS.sub("", text)
    codes = [m.group(1) for m in _CODE.finditer(text)]
    marked = _CODE.sub(_CODE_SPAN, text)
    marked = _BOLD.sub(lambda m: f"{_B_OPEN}{m.group(1)}{_B_CLOSE}", marked)
    italics: list[tuple[str, str]] = []

    def italic(m: re.Match[str]) -> str:
        italics.append((m.group(0)[0], m.group(0)[-1]))
        return f"{_I_OPEN}{m.group(1)}{_I_CLOSE}"

    marked = _ITALIC.sub(italic, marked)
    return _emit(_uncrossed(marked, italics), iter(codes), markup)


def _uncrossed(marked: str, italics: list[tuple[str, str]]) -> str:
    """`marked` with each italic pair that crosses a bold one put back as the text it was."""
    out = list(marked)
    positions = [i for i, c in enumerate(out) if c in (_I_OPEN, _I_CLOSE)]
    bold_depth = [0] * (len(out) + 1)
    for i, c in enumerate(out):
        bold_depth[i + 1] = bold_depth[i] + (c == _B_OPEN) - (c == _B_CLOSE)
    for n, (opening, closing) in enumerate(zip(positions[::2], positions[1::2], strict=True)):
        inside = out[opening:closing]
        if bold_depth[opening] != bold_depth[closing] or inside.count(_B_OPEN) != inside.count(_B_CLOSE):
            out[opening], out[closing] = italics[n]
    return "".join(out)


def _emit(marked: str, codes: Iterator[str], markup: Markup) -> str:
    stack: list[list[str]] = [[]]
    literal: list[str] = []

    def flush() -> None:
        if literal:
            stack[-1].append(markup.escape("".join(literal)))
            literal.clear()

    for c in marked:
        if c == _CODE_SPAN:
            flush()
            stack[-1].append(markup.code(markup.escape(next(codes))))
        elif c in (_B_OPEN, _I_OPEN):
            flush()
            stack.append([])
        elif c in (_B_CLOSE, _I_CLOSE):
            flush()
            inner = "".join(stack.pop())
            stack[-1].append(markup.bold(inner) if c == _B_CLOSE else markup.italic(inner))
        else:
            literal.append(c)
    flush()
    return "".join(stack[0])


_PLAIN = Markup(lambda text: text, str, str, str)


def visible(text: str) -> str:
    """The text a learner sees once the markers are parsed."""
    return convert(text, _PLAIN)


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def length(text: str) -> int:
    """What Telegram counts against its limits: the visible text in UTF-16 code units."""
    return utf16_length(visible(text))


def fits(text: str, limit: int = LIMIT) -> bool:
    """True when `text` goes out as one message (or one caption, with CAPTION_LIMIT)."""
    return utf16_length(text) <= limit or length(text) <= limit  # markers only shorten: most stop early


def chunks(text: str, limit: int = LIMIT) -> list[str]:
    """Texts of at most `limit` units, cut between paragraphs (then lines, then words), for messages
    no rule bounds (lists, reports); a lesson's sections and questions always fit (FIML041)."""
    if fits(text, limit):
        return [text]
    out: list[str] = []
    current = ""
    for piece in _pieces(text, limit):
        candidate = f"{current}\n\n{piece}" if current else piece
        if fits(candidate, limit):
            current = candidate
            continue
        if current:
            out.append(current)
        current = piece
    if current:
        out.append(current)
    return out


def _pieces(text: str, limit: int) -> list[str]:
    pieces: list[str] = []
    for paragraph in text.split("\n\n"):
        if fits(paragraph, limit):
            pieces.append(paragraph)
            continue
        buffer = ""
        for word in re.split(r"(?<=\n)|(?<= )", paragraph):
            if buffer and not fits(buffer + word, limit):
                pieces.append(buffer.rstrip())
                buffer = ""
            buffer += word
        if buffer:
            pieces.append(buffer.rstrip())
    return pieces


def paragraphs(markdown: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", markdown) if p.strip()]


def section_header(lesson_title: str, number: int, total: int) -> str:
    return f"**{lesson_title}** · {number}/{total}"


def section_body(section: Section) -> str:
    """A section below its header; live data is not fetched here, so examples show their fallback."""
    parts = [f"**{section.title}**"] if section.title else []
    if isinstance(section, TextSection):
        parts.append(section.body.strip())
    elif isinstance(section, KeyPointsSection):
        parts.append("\n".join(f"• {p}" for p in section.points))
    elif isinstance(section, LiveExampleSection):
        if section.body:
            parts.append(section.body.strip())
        parts.append(f"{live_label(section)}\n\n{section.fallback.strip()}")
    elif isinstance(section, ChartSection):
        parts.append(f"{live_label(section)}\n\n{section.fallback.strip()}")
        if section.caption:
            parts.append(f"*{section.caption.strip()}*")
    return "\n\n".join(parts)


def live_label(section: LiveExampleSection | ChartSection) -> str:
    """The line naming a live section's data: symbol and metrics, or symbol, period and kind."""
    if isinstance(section, LiveExampleSection):
        return quote_label(section.symbol, section.metrics)
    return chart_label(section.symbol, section.period, section.kind)


def quote_label(symbol: str, metrics: Sequence[str]) -> str:
    return f"📊 `{symbol}` ({', '.join(metrics)})"


def chart_label(symbol: str, period: str, kind: str) -> str:
    return f"📈 `{symbol}` · {period} · {kind} chart"


def figures_date(
    section: LiveExampleSection | ChartSection, changelog: Sequence[ChangelogEntry]
) -> str | None:
    """The date of a fallback's figures: its own "as of", else the newest changelog entry's date."""
    stated = find_as_of(section.fallback)
    return stated.isoformat() if stated else (str(changelog[0].date) if changelog else None)


def live_head(lesson_title: str, number: int, total: int, section: LiveExampleSection | ChartSection) -> str:
    """What a live section shows above its data: the header, its title, an example's body."""
    head = [section_header(lesson_title, number, total)] + ([f"**{section.title}**"] if section.title else [])
    if isinstance(section, LiveExampleSection) and section.body:
        head.append(section.body.strip())
    return "\n\n".join(head)


def fallback_note(stated: str | None) -> str:
    """The line above a fallback: live data is missing, and how old the lesson's figures are."""
    return f"_{UNAVAILABLE}" + (f" (as of {stated})._" if stated else "._")


def without_live_data(head: str, label: str, stated: str | None, fallback: str, caption: str = "") -> str:
    """A live section when its data is late or fails: the lesson's figures, and why they are shown."""
    parts = [head, label, fallback_note(stated), fallback, f"*{caption}*" if caption else ""]
    return "\n\n".join(p for p in parts if p)


def live_section_texts(
    lesson_title: str, number: int, total: int, section: LiveExampleSection | ChartSection, stated: str | None
) -> list[str]:
    """The messages a live section can be without data: as the tutor sends it, and as the data
    service sends it when the data fails (`stated`: the figures' date). With data, the figures
    depend on the provider and are not measured here."""
    caption = section.caption.strip() if isinstance(section, ChartSection) and section.caption else ""
    head = live_head(lesson_title, number, total, section)
    return [
        section_text(lesson_title, number, total, section),
        without_live_data(head, live_label(section), stated, section.fallback.strip(), caption),
    ]


def section_text(lesson_title: str, number: int, total: int, section: Section) -> str:
    """The message of section `number` of `total`: the lesson's header above the section."""
    return f"{section_header(lesson_title, number, total)}\n\n{section_body(section)}"


def question_body(question: Question) -> str:
    """The prompt; the options are buttons, but a numbered copy is shown too."""
    parts = [question.prompt.strip()]
    if isinstance(question, MultipleChoiceQuestion):
        parts.append("\n".join(f"{i + 1}. {o}" for i, o in enumerate(question.options)))
    elif isinstance(question, NumericQuestion) and question.unit:
        parts.append(f"(answer in {question.unit})")
    return "\n\n".join(parts)


def question_text(lesson_title: str, number: int, total: int, question: Question) -> str:
    """The message of quiz question `number` of `total`, header included."""
    header = f"**Quiz · {lesson_title}** · question {number}/{total}"
    text = f"{header}\n\n{question_body(question)}"
    return f"{text}\n\n{TYPE_A_NUMBER}" if isinstance(question, NumericQuestion) else text


def review_text(lesson_title: str, question: Question) -> str:
    """A missed question asked again in a review (choice questions only)."""
    return f"**Review · {lesson_title}**\n\n{question_body(question)}"


def after_feedback(feedback: str, following: str) -> list[str]:
    """The feedback to an answer above what comes next, in one message when that fits, else two:
    a question is never cut in half by the explanation of the one before it."""
    joined = f"{feedback}{SEPARATOR}{following}"
    return [joined] if fits(joined) else [feedback, following]
