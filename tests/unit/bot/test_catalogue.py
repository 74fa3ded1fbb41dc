"""The catalogue: built once per refresh, pages and renames without touching every lesson."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fiml_bot.tutor.catalogue import MORE_LESSONS, Catalogue, LessonSummary, _merged_slice
from fiml_cms.lesson import LearningPath
from fiml_cms.yamlfile import _load_fields_parsed, load_fields
from testing.repo import CONTENT, PROJECT


def lesson(lesson_id: str, *, replaces: tuple[str, ...] = (), retired: bool = False) -> LessonSummary:
    return LessonSummary(lesson_id, "1.0.0", lesson_id.title(), 5, replaces=replaces, retired=retired)


@given(
    st.lists(st.integers(0, 200), unique=True),
    st.lists(st.integers(0, 200), unique=True),
    st.integers(0, 250),
    st.integers(0, 20),
)
def test_a_page_of_two_merged_lists_is_the_slice_of_their_merge(
    big: list[int], small: list[int], start: int, size: int
) -> None:
    small = sorted(set(small) - set(big))
    big = sorted(big)
    assert _merged_slice(tuple(big), small, start, start + size) == sorted(big + small)[start : start + size]


def test_renames_paths_retired_lessons_and_pages() -> None:
    path = LearningPath("basics", "Basics", "", ("old_name", "c_lesson"))
    catalogue = Catalogue.build(
        [
            lesson("old_name"),
            lesson("older"),
            lesson("new_name", replaces=("old_name",)),
            lesson("newest", replaces=("new_name",)),
            lesson("b_lesson", retired=True),
            lesson("c_lesson"),
            lesson("a_lesson"),
        ],
        [path],
    )
    assert catalogue.current_id("old_name") == "newest"  # a chain of renames
    assert catalogue.current_id("nowhere") is None
    assert catalogue.lesson_ids() == ["a_lesson", "b_lesson", "c_lesson", "newest", "older"]
    assert sorted(catalogue.former_ids("newest")) == ["new_name", "old_name"]
    assert catalogue.listing[:2] == (("Basics", "newest"), ("Basics", "c_lesson"))
    items, page, pages = catalogue.page(0, 3)
    assert [s.id for _, s in items] == ["newest", "c_lesson", "a_lesson"] and (page, pages) == (0, 2)
    items, page, pages = catalogue.page(9, 3)  # past the end: the last page
    assert [s.id for _, s in items] == ["older"] and (page, pages) == (1, 2)
    items, _, pages = catalogue.page(1, 3, also={"b_lesson"})  # a retired lesson the learner has started
    assert [(h, s.id) for h, s in items] == [
        (MORE_LESSONS, "b_lesson"),
        (MORE_LESSONS, "older"),
    ] and pages == 2
    assert catalogue.resolve_key("c_lesson") == "c_lesson" and catalogue.resolve_key("old_name") is None


LESSON_FILES = sorted((CONTENT / "lessons").glob("*.yaml")) + sorted(
    (PROJECT / "tests/examples/valid").glob("*.yaml")
)
FIELDS = frozenset(
    {"id", "version", "title", "duration_minutes", "prerequisites", "replaces", "retired", "yanked"}
)


@pytest.mark.parametrize("path", LESSON_FILES, ids=lambda p: p.name)
def test_reading_a_few_fields_gives_what_the_yaml_parser_gives(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert load_fields(text, FIELDS) == _load_fields_parsed(text, FIELDS)


@pytest.mark.parametrize(
    "text",
    [
        'id: x\ntitle: "Quoted: with colon"\n',
        "id: x\ntitle: 'It''s'\n",
        "id: x\ntitle: Plain # a comment\n",
        "id: x\ntitle: >-\n  Folded\n  text\n",
        "id: x\nprerequisites:\n  - a\n  - b\n",
        'id: x\nyanked: ["1.1.0", 1.2.0]\nretired: TRUE\n',
        "id: x\nreplaces: [true, null]\n",
        "id: x\nversion: 1.0\nduration_minutes: 0x10\n",
        "id: x\ntitle: -starts with a dash\n",
        "id: x\ntitle: two\n  lines\n",
        "id: x\ntags: [a]\nsections:\n  - id: title\n    title: not top level\n",
    ],
)
def test_odd_layouts_read_like_the_yaml_parser(text: str) -> None:
    assert load_fields(text, FIELDS) == _load_fields_parsed(text, FIELDS)
