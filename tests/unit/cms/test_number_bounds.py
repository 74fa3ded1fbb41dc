"""Issue 10.1: every number is bounded, in the schemas and again in Python (the validator lets huge ints pass)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fiml_cms import rules
from fiml_cms.document import check_text
from fiml_cms.lesson import Lesson
from fiml_cms.schema import load_schema
from testing.cli import cli
from testing.repo import PROJECT, replace_in

SAMPLE = PROJECT / "content/lessons/reading_stock_prices.yaml"
HUGE_HEX = "0x" + "f" * 3600


def schema_nodes(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    if isinstance(node, dict):
        yield path, node
        for key, child in node.items():
            yield from schema_nodes(child, (*path, str(key)))
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from schema_nodes(child, (*path, str(i)))


def types_of(node: dict[str, Any]) -> set[str]:
    kind = node.get("type")
    return set(kind) if isinstance(kind, list) else {kind} if isinstance(kind, str) else set()


@pytest.mark.parametrize("name", ["lesson.schema.json", "progress.schema.json"])
def test_every_number_in_the_schemas_has_both_bounds(name: str) -> None:
    unbounded = [
        "/".join(path)
        for path, node in schema_nodes(load_schema(name))
        if types_of(node) & {"integer", "number"}
        and not (
            {"minimum", "exclusiveMinimum"} & node.keys() and {"maximum", "exclusiveMaximum"} & node.keys()
        )
    ]
    assert unbounded == []


def test_every_text_and_list_of_a_progress_document_is_bounded() -> None:
    """Issue 10.6 too: lengths and entry counts no honest export reaches."""
    unbounded = [
        "/".join(path)
        for path, node in schema_nodes(load_schema("progress.schema.json"))
        if (
            "string" in types_of(node)
            and "maxLength" not in node
            and "enum" not in node
            and "const" not in node
            and "pattern" not in node
        )
        or ("array" in types_of(node) and "maxItems" not in node)
        or (
            types_of(node) == {"object"}
            and "additionalProperties" in node
            and isinstance(node["additionalProperties"], dict)
            and "maxProperties" not in node
        )
    ]
    assert unbounded == []


def test_a_huge_hex_xp_reward_is_an_error_with_its_position(content_repo: Path) -> None:
    lesson = content_repo / "content/lessons/reading_stock_prices.yaml"
    replace_in(lesson, "xp_reward: 50", f"xp_reward: {HUGE_HEX}")
    result = cli("validate", "content/lessons/reading_stock_prices.yaml")
    assert result.exit_code == 1
    line = next(
        i for i, text in enumerate(lesson.read_text().splitlines(), 1) if text.startswith("xp_reward:")
    )
    assert f"reading_stock_prices.yaml:{line}:12: error FIML024" in result.stdout
    assert "too large" in result.stdout


@pytest.mark.parametrize("value", [HUGE_HEX, "-" + HUGE_HEX, "99999999999999999999", "-1", "10001"])
def test_out_of_range_xp_reward_never_validates(value: str) -> None:
    text = SAMPLE.read_text(encoding="utf-8").replace("xp_reward: 50", f"xp_reward: {value}", 1)
    codes = {f.code for f in check_text(text.encode(), "x.yaml", stem="reading_stock_prices").findings}
    assert codes & {"FIML022", "FIML024"}


def test_the_semantic_rules_check_bounds_without_the_validator() -> None:
    from ruamel.yaml import YAML

    data = YAML(typ="safe").load(SAMPLE.read_bytes())
    lesson = Lesson.from_dict(data)
    huge = 16**3600
    question = dataclasses.replace(lesson.quiz.questions[0], xp=huge)
    broken = dataclasses.replace(
        lesson,
        xp_reward=huge,
        duration_minutes=-huge,
        quiz=dataclasses.replace(lesson.quiz, questions=(question, *lesson.quiz.questions[1:])),
    )
    found = {
        f.path: f for f in rules.check_lesson(broken, "x.yaml", "reading_stock_prices") if f.code == "FIML024"
    }
    assert set(found) == {("xp_reward",), ("duration_minutes",), ("quiz", "questions", 0, "xp")}
    assert "between 0 and 10,000" in found[("xp_reward",)].message
    assert rules.check_lesson(lesson, "x.yaml", "reading_stock_prices") == []


def test_a_numeric_answer_past_the_bound_is_refused() -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    assert "type: numeric" in text
    data = json.loads(
        json.dumps(__import__("ruamel.yaml", fromlist=["YAML"]).YAML(typ="safe").load(text), default=str)
    )
    numeric = next(q for q in data["quiz"]["questions"] if q["type"] == "numeric")
    numeric["answer"] = 10**16
    codes = [
        f.code for f in check_text(json.dumps(data).encode(), "x.json", stem="reading_stock_prices").findings
    ]
    assert codes == ["FIML024"]
