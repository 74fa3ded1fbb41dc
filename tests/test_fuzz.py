"""Property tests: whatever bytes or YAML-shaped data come in, only clean findings come out."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fiml_cms.document import check_text
from fiml_cms.findings import RULES

SAMPLE = (Path(__file__).resolve().parent.parent / "content/lessons/reading_stock_prices.yaml").read_bytes()

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30))
json_like = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=30,
)
yaml_fragments = st.sampled_from(
    ["a: 1\n", "- x\n", "&a [*a]\n", "? [1]\n: 2\n", "!!binary aGk=\n", "!!set {a}\n", "\t- x\n", "{", "]", "'", '"\\x', "%YAML 1.1\n---\n", "...\n", "*nope\n", "<<: {a: 1}\n", "2024-13-45\n", "id: ../../etc/x\n"]
)


def assert_clean(data: bytes) -> None:
    checked = check_text(data, "fuzz.yaml", stem="fuzz")
    for finding in checked.findings:
        assert finding.code in RULES
        assert finding.line >= 1 and finding.column >= 1
        assert finding.message and finding.file == "fuzz.yaml"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_arbitrary_bytes(data: bytes) -> None:
    assert_clean(data)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=2000))
def test_arbitrary_text(text: str) -> None:
    assert_clean(text.encode("utf-8", errors="surrogatepass"))


@settings(max_examples=200, deadline=None)
@given(st.lists(yaml_fragments, max_size=12))
def test_yaml_fragments(parts: list[str]) -> None:
    assert_clean("".join(parts).encode())


@settings(max_examples=300, deadline=None)
@given(json_like)
def test_yaml_shaped_data(data: object) -> None:
    assert_clean(json.dumps(data).encode())


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_lesson(data: st.DataObject) -> None:
    """A real lesson with one random subtree replaced: the rules must cope with any shape."""
    from ruamel.yaml import YAML

    lesson = YAML(typ="safe").load(SAMPLE)
    node = lesson
    while isinstance(node, (dict, list)) and node and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(sorted(node) if isinstance(node, dict) else list(range(len(node)))))
        if not isinstance(node[key], (dict, list)):
            break
        node = node[key]
    if isinstance(node, dict) and node:
        node[data.draw(st.sampled_from(sorted(node)))] = data.draw(json_like)
    elif isinstance(node, list) and node:
        node[data.draw(st.integers(0, len(node) - 1))] = data.draw(json_like)
    assert_clean(json.dumps(lesson, default=str).encode())
