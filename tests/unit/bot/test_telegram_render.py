"""Rendering for Telegram: escaping, the Markdown subset as HTML, splitting long texts.

Lengths are checked with the fake Bot API's parser (tdlib's), not with the code under test."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fiml_bot.adapters.console import parse_line
from fiml_bot.adapters.telegram import event_for, html_messages, to_html
from fiml_bot.tutor.events import Command, SetTimeZone, Start
from fiml_cms import message
from fiml_cms.message import LIMIT
from testing.fakebotapi.formatting import parse_html, utf16_len


def visible_length(markup: str) -> int:
    """What Telegram counts: the text after HTML parsing, in UTF-16 code units."""
    return utf16_len(parse_html(markup)[0])


def test_everything_is_escaped_and_markdown_becomes_html() -> None:
    assert (
        to_html("**Bid < ask** & *spread* `a<b>`")
        == "<b>Bid &lt; ask</b> &amp; <i>spread</i> <code>a&lt;b&gt;</code>"
    )
    assert to_html("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;"


def test_long_texts_are_split_at_paragraphs() -> None:
    paragraphs = [f"**Part {i}** " + "word " * 300 for i in range(6)]
    chunks = html_messages("\n\n".join(paragraphs))
    assert len(chunks) > 1
    assert all(visible_length(c) <= LIMIT for c in chunks)
    assert all(c.count("<b>") == c.count("</b>") for c in chunks)
    assert "".join(c.replace("\n", "") for c in chunks).count("Part") == 6


def test_a_single_huge_paragraph_is_cut_between_words() -> None:
    chunks = html_messages("word " * 3000)
    assert len(chunks) >= 3 and all(visible_length(c) <= LIMIT for c in chunks)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=12000))
def test_no_chunk_is_ever_over_the_limit(text: str) -> None:
    assert all(visible_length(c) <= LIMIT for c in html_messages(text))


_MARKDOWNISH = st.text(st.sampled_from("ab *_`<&>📈\n"), max_size=60)


@settings(max_examples=300, deadline=None)
@given(_MARKDOWNISH)
def test_the_html_is_well_formed_and_its_length_is_what_the_message_module_counts(text: str) -> None:
    """Bold and italic never cross (Telegram refuses the message), and FIML041's count is Telegram's."""
    parsed, _ = parse_html(to_html(text))  # raises on a crossed or unclosed tag
    assert parsed == message.visible(text)
    assert utf16_len(parsed) == message.length(text)


class _Msg:
    def __init__(self, text: str) -> None:
        self.text = text


class _Update:
    callback_query = None

    def __init__(self, text: str) -> None:
        self.effective_message = _Msg(text)


def test_commands_become_events() -> None:
    assert event_for(_Update("/start")) == Start()  # type: ignore[arg-type]
    assert event_for(_Update("/start@fiml_bot")) == Start()  # type: ignore[arg-type]
    assert event_for(_Update("/timezone Europe/Rome")) == SetTimeZone("Europe/Rome")  # type: ignore[arg-type]
    assert event_for(_Update("/dance")) == Command("dance")  # type: ignore[arg-type]


def test_both_adapters_read_commands_from_one_table() -> None:
    for text in (
        "/start",
        "/HELP",
        "/lessons",
        "/progress",
        "/settings",
        "/timezone  Europe/Rome ",
        "/dance now",
    ):
        assert parse_line(text, []) == event_for(_Update(text))  # type: ignore[arg-type]


def test_length_is_counted_as_telegram_does() -> None:
    assert message.length("**a&b**") == 3
    assert message.length("📈") == 2  # outside the BMP: two UTF-16 code units
    assert all(visible_length(c) <= LIMIT for c in html_messages("📈 " * 3000))
