"""Rendering for Telegram: escaping, the Markdown subset as HTML, splitting long texts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fiml_bot.adapters.telegram import LIMIT, event_for, split_html, to_html, visible_length
from fiml_bot.tutor.events import Command, SetTimeZone, Start


def test_everything_is_escaped_and_markdown_becomes_html() -> None:
    assert (
        to_html("**Bid < ask** & *spread* `a<b>`")
        == "<b>Bid &lt; ask</b> &amp; <i>spread</i> <code>a&lt;b&gt;</code>"
    )
    assert to_html("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;"


def test_long_texts_are_split_at_paragraphs() -> None:
    paragraphs = [f"**Part {i}** " + "word " * 300 for i in range(6)]
    chunks = split_html(to_html("\n\n".join(paragraphs)))
    assert len(chunks) > 1
    assert all(visible_length(c) <= LIMIT for c in chunks)
    assert all(c.count("<b>") == c.count("</b>") for c in chunks)
    assert "".join(c.replace("\n", "") for c in chunks).count("Part") == 6


def test_a_single_huge_paragraph_is_cut_between_words() -> None:
    chunks = split_html(to_html("word " * 3000))
    assert len(chunks) >= 3 and all(visible_length(c) <= LIMIT for c in chunks)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=12000))
def test_no_chunk_is_ever_over_the_limit(text: str) -> None:
    assert all(visible_length(c) <= LIMIT for c in split_html(to_html(text)))


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


def test_length_is_counted_as_telegram_does() -> None:
    assert visible_length("<b>a&amp;b</b>") == 3
    assert visible_length("📈") == 2  # outside the BMP: two UTF-16 code units
    assert all(visible_length(c) <= LIMIT for c in split_html(to_html("📈 " * 3000)))
