"""Button data: typed callbacks on a wire format that never changes (old messages' buttons keep working)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fiml_bot.tutor.callbacks import (
    LIMIT,
    Answer,
    Callback,
    Choose,
    KeyResolver,
    ListPage,
    Next,
    Open,
    Retake,
    ShowHelp,
    ShowProgress,
    ViewUpdates,
    decode,
    encode,
    short_key,
)

LONG = "a_very_long_lesson_identifier_about_markets"

# Data as earlier releases wrote it into learners' messages: these bytes must keep decoding the same.
WIRE = [
    ("h", ShowHelp()),
    ("p", ShowProgress()),
    ("l|0|", ListPage(0, "")),
    ("l|2|basics", ListPage(2, "basics")),
    ("o|what_is_a_market", Open("what_is_a_market")),
    ("n|market|1.2.0|intro", Next("market", "1.2.0", "intro")),
    ("a|market|1.2.0|q1|3", Answer("market", "1.2.0", "q1", "3")),
    ("a|market|1.2.0|q2|t", Answer("market", "1.2.0", "q2", "t")),
    ("c|market|2.0.0|c", Choose("market", "2.0.0", "c")),
    ("c|market|2.0.0|r", Choose("market", "2.0.0", "r")),
    ("u|market", ViewUpdates("market")),
    ("r|market", Retake("market")),
    (f"o|{LONG}", Open(LONG)),  # fits in 64 bytes: not shortened
    ("n|~p3o2hz6i52|1.10.0|~ds5ru5m6c7", Next("~p3o2hz6i52", "1.10.0", "~ds5ru5m6c7")),
]


@pytest.mark.parametrize(("data", "callback"), WIRE)
def test_old_data_decodes_to_its_callback(data: str, callback: Callback) -> None:
    assert decode(data) == callback


@pytest.mark.parametrize(("data", "callback"), WIRE)
def test_encoding_is_byte_identical_to_earlier_releases(data: str, callback: Callback) -> None:
    assert encode(callback) == data
    assert encode(callback.kind, *callback.fields) == data  # the letter-and-fields spelling still works


def test_long_fields_are_shortened_to_their_hash_only_when_over_the_limit() -> None:
    data = encode(Next(LONG, "1.10.0", "a_long_section_identifier_x"))
    assert data == "n|~p3o2hz6i52|1.10.0|~ds5ru5m6c7"
    assert short_key(LONG) == "~p3o2hz6i52"
    assert KeyResolver([LONG, "market"]).resolve("~p3o2hz6i52") == LONG
    assert KeyResolver([LONG, "market"]).resolve("market") == "market"
    assert encode(Answer(LONG, "12.0.0", "q1", "3")) == f"a|{LONG}|12.0.0|q1|3"


@pytest.mark.parametrize(
    "data",
    [
        "",
        "x",
        "o",
        "o|a|b",
        "n|a|b",
        "a|a|b|c",
        "c|a|b",
        "h|",
        "p|x",
        "l|0",
        "O|a",
        "o|" + "a" * LIMIT,
        None,
        7,
    ],
)
def test_forged_or_garbled_data_decodes_to_none(data: object) -> None:
    assert decode(data) is None  # type: ignore[arg-type]  # the adapter passes whatever arrived


def test_a_list_page_that_is_not_a_number_is_the_first_page() -> None:
    assert decode("l|x|") == ListPage(0, "")
    assert decode("l|-1|") == ListPage(0, "")
    assert decode("l|²|") == ListPage(0, "")  # a digit int() cannot read


@pytest.mark.parametrize(
    "bad",
    [lambda: encode("z"), lambda: encode("o"), lambda: encode(Open("a|b")), lambda: encode(Open("a"), "b")],
)
def test_encode_refuses_what_it_cannot_write(bad) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        bad()


def test_encode_refuses_data_over_the_limit_even_when_shortened() -> None:
    with pytest.raises(ValueError, match="over 64 bytes"):
        encode(Answer("m" * 16, "v" * 16, "q" * 16, "1" * 16))  # 16 characters are never shortened


_field = st.text(st.characters(blacklist_characters="|", blacklist_categories=("Cs",)), max_size=20)
_callbacks = st.one_of(
    st.just(ShowHelp()),
    st.just(ShowProgress()),
    st.builds(ListPage, st.integers(0, 10_000), _field),
    st.builds(Open, _field),
    st.builds(Next, _field, _field, _field),
    st.builds(Answer, _field, _field, _field, _field),
    st.builds(Choose, _field, _field, st.sampled_from("cr")),
    st.builds(ViewUpdates, _field),
    st.builds(Retake, _field),
)


@given(_callbacks)
def test_round_trip(callback: Callback) -> None:
    try:
        data = encode(callback)
    except ValueError:
        return  # too long even shortened: such a button is never made
    assert len(data.encode()) <= LIMIT
    decoded = decode(data)
    assert decoded is not None and type(decoded) is type(callback)
    if data == "|".join((callback.kind, *callback.fields)):
        assert decoded == callback
    else:  # shortened: long fields come back as their short keys
        assert decoded.fields == tuple(short_key(f) if len(f) > 16 else f for f in callback.fields)


@given(st.text(max_size=70))
def test_any_text_decodes_to_a_callback_or_none_without_raising(data: str) -> None:
    decoded = decode(data)
    assert decoded is None or isinstance(decoded, Callback)
