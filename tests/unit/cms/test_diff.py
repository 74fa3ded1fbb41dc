"""The SPEC §4 table: each kind of change and the bump level it requires."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from fiml_cms.diff import diff_lessons
from fiml_cms.lesson import Lesson
from fiml_cms.versions import Level
from testing.repo import PROJECT

SOURCE = PROJECT / "content/lessons/reading_stock_prices.yaml"


def base() -> dict[str, Any]:
    data = YAML(typ="safe").load(SOURCE.read_text(encoding="utf-8"))
    data["changelog"] = [{**c, "date": str(c["date"])} for c in data["changelog"]]
    return data


def section(d: dict, sid: str) -> dict:
    return next(s for s in d["sections"] if s["id"] == sid)


def mc(d: dict) -> dict:
    return next(q for q in d["quiz"]["questions"] if q["type"] == "multiple_choice")


CASES: list[tuple[str, Callable[[dict], None], Level]] = [
    ("nothing", lambda d: None, Level.NONE),
    ("version and changelog only", lambda d: d.update(version="9.9.9"), Level.NONE),
    ("wording in a section", lambda d: section(d, "intro").update(body="New words."), Level.PATCH),
    ("section title", lambda d: section(d, "intro").update(title="Another title"), Level.PATCH),
    ("explanation", lambda d: mc(d).update(explanation="Because."), Level.PATCH),
    ("lesson title", lambda d: d.update(title="Quotes"), Level.PATCH),
    ("tags", lambda d: d.update(tags=["x"]), Level.PATCH),
    ("objectives", lambda d: d.update(learning_objectives=["Read a quote."]), Level.PATCH),
    ("question prompt", lambda d: mc(d).update(prompt="Which one?"), Level.PATCH),
    (
        "added section",
        lambda d: d["sections"].append({"id": "extra", "type": "text", "body": "More."}),
        Level.MINOR,
    ),
    (
        "added question",
        lambda d: d["quiz"]["questions"].append(
            {"id": "qx", "type": "true_false", "prompt": "P", "answer": True, "explanation": "E"}
        ),
        Level.MINOR,
    ),
    ("changed data query", lambda d: section(d, "live_quote")["data"].update(symbol="MSFT"), Level.MINOR),
    ("changed example", lambda d: section(d, "live_quote").update(fallback="Other figures."), Level.MINOR),
    (
        "changed correct answer",
        lambda d: mc(d).update(answer=(mc(d)["answer"] + 1) % len(mc(d)["options"])),
        Level.MINOR,
    ),
    ("lesson xp", lambda d: d.update(xp_reward=d["xp_reward"] + 10), Level.MINOR),
    ("question xp", lambda d: mc(d).update(xp=99), Level.MINOR),
    ("removed section", lambda d: d["sections"].pop(1), Level.MAJOR),
    ("re-ordered sections", lambda d: d["sections"].insert(0, d["sections"].pop(1)), Level.MAJOR),
    ("removed question", lambda d: d["quiz"]["questions"].pop(), Level.MAJOR),
    (
        "question type",
        lambda d: d["quiz"]["questions"].__setitem__(
            0,
            {
                "id": d["quiz"]["questions"][0]["id"],
                "type": "true_false",
                "prompt": "P",
                "answer": True,
                "explanation": "E",
            },
        ),
        Level.MAJOR,
    ),
    ("option set: one more option", lambda d: mc(d)["options"].append("Something else"), Level.MAJOR),
    ("option set: re-ordered", lambda d: mc(d)["options"].reverse(), Level.MAJOR),
    ("format", lambda d: d.update(format=2), Level.MAJOR),
]


@pytest.mark.parametrize("name,change,level", CASES, ids=[c[0] for c in CASES])
def test_required_level(name: str, change: Callable[[dict], None], level: Level) -> None:
    old = base()
    new = copy.deepcopy(old)
    change(new)
    assert diff_lessons(Lesson.from_dict(old), Lesson.from_dict(new)).required is level


def test_the_highest_level_wins() -> None:
    old = base()
    new = copy.deepcopy(old)
    section(new, "intro").update(body="x")
    new["sections"].pop(1)
    result = diff_lessons(Lesson.from_dict(old), Lesson.from_dict(new))
    assert result.required is Level.MAJOR
    assert {c.level for c in result.changes} == {Level.PATCH, Level.MAJOR}
