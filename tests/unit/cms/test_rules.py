"""Unit tests of the pure parts: cycle detection, JSON paths, plain-data conversion."""

from __future__ import annotations

import datetime as dt

import pytest

from fiml_cms import plain
from fiml_cms.findings import format_json_path
from fiml_cms.rules import strongly_connected


def _cyclic(graph: dict[str, list[str]]) -> list[set[str]]:
    return sorted(
        (set(c) for c in strongly_connected(graph) if len(c) > 1 or c[0] in graph[c[0]]),
        key=sorted,
    )


def test_cycles_found() -> None:
    graph = {"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"], "e": ["e"], "f": []}
    assert _cyclic(graph) == [{"a", "b", "c"}, {"e"}]


def test_long_chain_does_not_overflow() -> None:
    graph = {f"n{i}": [f"n{i + 1}"] for i in range(20_000)}
    graph["n20000"] = ["n0"]
    assert len(_cyclic(graph)[0]) == 20_001


def test_json_path_format() -> None:
    assert format_json_path(("quiz", "questions", 2, "answer")) == "$.quiz.questions[2].answer"
    assert format_json_path(()) == "$"


def test_alias_bomb_is_measured_not_expanded() -> None:
    layer: list = ["lol"] * 10
    for _ in range(9):
        layer = [layer] * 10
    with pytest.raises(plain.AliasProblem):
        plain.expanded_size({"a": layer})


def test_self_reference() -> None:
    loop: list = []
    loop.append(loop)
    with pytest.raises(plain.AliasProblem, match="refers to"):
        plain.expanded_size({"a": loop})


def test_to_plain_normalizes_dates_and_flags_odd_values() -> None:
    data, problems = plain.to_plain({"date": dt.date(2026, 11, 26), 3: b"x", "s": {1}})
    assert data["date"] == "2026-11-26"
    assert {p.path for p in problems} == {("3",), ("s",)}
