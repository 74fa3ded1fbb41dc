"""fiml_cms/message.py: the Markdown subset, Telegram's count, and the messages of a lesson."""

from __future__ import annotations

import pytest

from fiml_cms import message
from fiml_cms.lesson import MultipleChoiceQuestion, NumericQuestion, TextSection

TAGS = message.Markup(
    escape=lambda text: text.replace("<", "&lt;"),
    bold=lambda inner: f"<b>{inner}</b>",
    italic=lambda inner: f"<i>{inner}</i>",
    code=lambda inner: f"<code>{inner}</code>",
)


@pytest.mark.parametrize(
    ("markdown", "markup", "seen"),
    [
        ("**Bid < ask** and *spread*", "<b>Bid &lt; ask</b> and <i>spread</i>", "Bid < ask and spread"),
        ("*a **b** c*", "<i>a <b>b</b> c</i>", "a b c"),  # italic around bold: nested
        ("*a **b* c**", "*a <b>b* c</b>", "*a b* c"),  # crossing: the italic pair is shown as typed
        ("`**x**` and `a<b`", "<code>**x**</code> and <code>a&lt;b</code>", "**x** and a<b"),  # code: literal
        ("**a `x` b**", "<b>a <code>x</code> b</b>", "a x b"),
        ("snake_case_name", "snake_case_name", "snake_case_name"),
    ],
)
def test_the_markdown_subset(markdown: str, markup: str, seen: str) -> None:
    assert message.convert(markdown, TAGS) == markup
    assert message.visible(markdown) == seen


def test_telegram_counts_utf16_units_of_the_visible_text() -> None:
    assert message.length("**📈**") == 2
    assert message.length("é市") == 2
    assert message.fits("📈" * 2048) and not message.fits("📈" * 2049)
    assert message.fits("**" + "a" * 4096 + "**")  # markers are not counted


def test_chunks_fit_and_keep_every_paragraph() -> None:
    paragraphs = [f"**Part {i}** " + "word " * 300 for i in range(6)]
    text = "\n\n".join(paragraphs)
    chunks = message.chunks(text)
    assert len(chunks) > 1 and all(message.fits(c) for c in chunks)
    assert "\n\n".join(chunks) == text  # cut between paragraphs only


def test_the_messages_carry_their_header() -> None:
    section = TextSection(id="s", title="Depth", body="The **spread**.")
    assert message.section_text("Orders", 2, 5, section) == "**Orders** · 2/5\n\n**Depth**\n\nThe **spread**."
    choice = MultipleChoiceQuestion(id="q", prompt="Which?", options=("A", "B"), answer=0, explanation="A.")
    assert (
        message.question_text("Orders", 1, 3, choice)
        == "**Quiz · Orders** · question 1/3\n\nWhich?\n\n1. A\n2. B"
    )
    number = NumericQuestion(
        id="n", prompt="How much?", answer=2.0, tolerance=0.0, unit="%", explanation="2."
    )
    assert message.question_text("Orders", 3, 3, number).endswith("(answer in %)\n\n" + message.TYPE_A_NUMBER)


def test_feedback_shares_the_next_message_only_when_both_fit() -> None:
    assert message.after_feedback("✅ Correct!", "Next?") == [f"✅ Correct!{message.SEPARATOR}Next?"]
    long = "word " * 500
    assert message.after_feedback(long, "x" * 3000) == [long, "x" * 3000]
