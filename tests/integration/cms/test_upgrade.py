"""`fiml-cms upgrade`: legacy FIML lessons -> the current format (SPEC §3 "Legacy formats")."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from fiml_cms.commands.upgrade import CURRENT, PROBLEMS, SKIPPED, UPGRADED, upgrade
from fiml_cms.commands.validate import validate
from fiml_cms.config import load_settings
from fiml_cms.document import check_text
from fiml_cms.errors import UsageError
from fiml_cms.legacy import IMPORTED, Upgraded, upgrade_lesson
from fiml_cms.yamlfile import dump_lesson, load
from testing.repo import PROJECT

TODAY = "2026-01-02"
BUNDLE = PROJECT.parent / "shared/corpus/fiml-lessons.bundle"


def run(data: dict[str, Any], first_seen: str | None = "2025-11-24", **options: Any) -> Upgraded:
    """upgrade_lesson, checking on the way that the input is left untouched."""
    before = copy.deepcopy(data)
    result = upgrade_lesson(data, stem="legacy_file", first_seen=first_seen, today=TODAY, **options)
    assert data == before, "upgrade_lesson modified its input"
    return result


def valid(result: Upgraded) -> dict[str, Any]:
    """The upgraded lesson, after checking it dumps, reads back and validates with no finding."""
    assert not result.problems, result.problems
    assert result.data is not None
    text = dump_lesson(result.data)
    assert load(text) == result.data
    checked = check_text(text.encode(), "upgraded.yaml", stem=result.data["id"])
    assert checked.findings == [], [(f.code, f.message, f.json_path) for f in checked.findings]
    return result.data


def lesson(**fields: Any) -> dict[str, Any]:
    """A small legacy lesson of the newer corpus shape (bare quiz list, {text, is_correct})."""
    base: dict[str, Any] = {
        "id": "stock_basics_001",
        "version": "2.0",
        "title": "Understanding Stock Prices",
        "category": "fundamentals",
        "difficulty": "beginner",
        "duration_minutes": 4,
        "learning_objectives": ["Understand what stock prices represent"],
        "sections": [
            {
                "type": "introduction",
                "content": "Stock price = what buyers and sellers agree on.\n\nMore buyers = price up\n",
            },
            {
                "type": "explanation",
                "content": "BID = highest price buyers will pay\nASK = lowest price sellers accept\n",
            },
            {
                "type": "key_takeaways",
                "content": "🎯 Remember:\n\n1. Bid = what buyers pay\n2. Ask = what sellers want\n",
            },
        ],
        "quiz": [
            {
                "id": "q1",
                "type": "multiple_choice",
                "text": "If Bid is $50.00 and Ask is $50.10, what's the spread?",
                "options": [
                    {"text": "$0.10", "is_correct": True},
                    {"text": "$50.00", "is_correct": False},
                    {"text": "$50.10", "is_correct": False},
                ],
                "explanation": "Spread = Ask - Bid = $0.10",
                "xp_reward": 10,
            },
            {
                "id": "q2",
                "type": "true_false",
                "text": "During crashes, panic sell everything.",
                "correct_answer": False,
                "explanation": "Stick to your plan.",
                "xp_reward": 15,
            },
        ],
        "xp_reward": 50,
        "tags": ["stock-basics", "pricing"],
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not ...}


# -- the two legacy shapes -------------------------------------------------------------------
def test_newer_shape_bare_quiz_list_with_is_correct() -> None:
    result = run(lesson())
    data = valid(result)
    assert result.changed
    assert list(data) == [
        "id",
        "version",
        "format",
        "title",
        "category",
        "difficulty",
        "duration_minutes",
        "xp_reward",
        "tags",
        "learning_objectives",
        "changelog",
        "sections",
        "quiz",
    ]
    assert data["version"] == "2.0.0" and data["format"] == 1 and data["xp_reward"] == 50
    assert data["changelog"] == [{"version": "2.0.0", "date": "2025-11-24", "changes": [IMPORTED]}]
    assert data["sections"] == [
        {
            "id": "introduction",
            "type": "text",
            "body": "Stock price = what buyers and sellers agree on.\n\nMore buyers = price up\n",
        },
        {
            "id": "explanation",
            "type": "text",
            "body": "BID = highest price buyers will pay\nASK = lowest price sellers accept\n",
        },
        {
            "id": "key_takeaways",
            "type": "key_points",
            "title": "🎯 Remember",
            "points": ["Bid = what buyers pay", "Ask = what sellers want"],
        },
    ]
    assert data["quiz"] == {
        "questions": [
            {
                "id": "q1",
                "type": "multiple_choice",
                "prompt": "If Bid is $50.00 and Ask is $50.10, what's the spread?",
                "options": ["$0.10", "$50.00", "$50.10"],
                "answer": 0,
                "explanation": "Spread = Ask - Bid = $0.10",
                "xp": 10,
            },
            {
                "id": "q2",
                "type": "true_false",
                "prompt": "During crashes, panic sell everything.",
                "answer": False,
                "explanation": "Stick to your plan.",
                "xp": 15,
            },
        ]
    }
    assert "version 2.0 -> 2.0.0" in result.notes
    assert "$.sections[1] (explanation) -> text section id explanation" in result.notes


def test_older_shape_quiz_questions_with_string_options_and_correct_index() -> None:
    old = lesson(
        version=...,
        estimated_completion_time="4 minutes",
        quiz={
            "questions": [
                {
                    "id": "q1",
                    "type": "multiple_choice",
                    "text": "Which order is instant?",
                    "options": ["Limit", "Market", "Stop"],
                    "correct": 1,
                    "explanation": "Market orders fill now.",
                    "points": 20,
                },
                {
                    "id": "q2",
                    "type": "true_false",
                    "text": "Spreads are a cost.",
                    "correct": True,
                    "explanation": "You buy at the ask.",
                    "points": 10,
                },
            ]
        },
    )
    result = run(old)
    data = valid(result)
    assert data["version"] == "1.0.0" and "$.version: missing -> 1.0.0" in result.notes
    q1, q2 = data["quiz"]["questions"]
    assert q1 == {
        "id": "q1",
        "type": "multiple_choice",
        "prompt": "Which order is instant?",
        "options": ["Limit", "Market", "Stop"],
        "answer": 1,
        "explanation": "Market orders fill now.",
        "xp": 20,
    }
    assert q2["answer"] is True and q2["xp"] == 10
    assert any("estimated_completion_time: dropped, it repeats duration_minutes" in n for n in result.notes)


def test_options_as_text_and_correct_mappings() -> None:
    question = {
        "type": "multiple_choice",
        "text": "Pick",
        "options": [{"text": "A", "correct": False}, {"text": "B", "correct": True}],
        "explanation": "B.",
        "xp_reward": 5,
    }
    data = valid(run(lesson(quiz=[question])))
    assert data["quiz"]["questions"][0]["answer"] == 1 and data["quiz"]["questions"][0]["options"] == [
        "A",
        "B",
    ]


def test_correct_answer_given_as_option_text_must_agree_with_flags() -> None:
    agree = {
        "type": "multiple_choice",
        "text": "Spread?",
        "options": [{"text": "$0.05", "correct": True}, {"text": "$100", "correct": False}],
        "correct_answer": "$0.05",
        "explanation": "x",
    }
    assert valid(run(lesson(quiz=[agree])))["quiz"]["questions"][0]["answer"] == 0
    disagree = {**agree, "correct_answer": "$100"}
    result = run(lesson(quiz=[disagree]))
    assert result.data is None and any("disagrees" in p for p in result.problems)


@pytest.mark.parametrize(
    ("legacy", "expected"),
    [
        ("1.0", "1.0.0"),
        ("2.0", "2.0.0"),
        ("1", "1.0.0"),
        ("v1.2", "1.2.0"),
        ("1.2.3", "1.2.3"),
        (1.0, "1.0.0"),
        (2, "2.0.0"),
        (None, "1.0.0"),
    ],
)
def test_versions(legacy: Any, expected: str) -> None:
    data = valid(run(lesson(version=legacy)))
    assert data["version"] == expected and data["changelog"][0]["version"] == expected


def test_unreadable_version_is_a_problem() -> None:
    result = run(lesson(version="second draft"))
    assert result.data is None and any(p.startswith("$.version:") for p in result.problems)


def test_changelog_dated_today_without_history() -> None:
    data = valid(run(lesson(), first_seen=None))
    assert data["changelog"] == [{"version": "2.0.0", "date": TODAY, "changes": [IMPORTED]}]


def test_legacy_changelog_is_kept_and_versions_completed() -> None:
    changelog = [
        {
            "version": "1.0",
            "date": "2024-11-24",
            "changes": ["Initial release with FIML live data integration"],
        }
    ]
    data = valid(run(lesson(version="1.0", changelog=changelog)))
    assert data["changelog"] == [
        {
            "version": "1.0.0",
            "date": "2024-11-24",
            "changes": ["Initial release with FIML live data integration"],
        }
    ]


def test_changelog_behind_the_version_is_a_problem_not_invented_history() -> None:
    changelog = [{"version": "1.0", "date": "2024-11-24", "changes": ["Initial release"]}]
    result = run(lesson(version="2.0", changelog=changelog))
    assert result.data is None and any("add an entry for 2.0.0" in p for p in result.problems)


# -- ids --------------------------------------------------------------------------------------
def test_section_ids_are_stable_slugs_unique_in_the_lesson() -> None:
    sections = [
        {"type": "introduction", "content": "a"},
        {"type": "explanation", "content": "b"},
        {"type": "Explanation", "content": "c"},
        {"type": "explanation", "content": "d"},
        {"id": "wrap_up", "type": "key_takeaways", "points": ["x", "y"]},
    ]
    data = valid(run(lesson(sections=sections)))
    assert [s["id"] for s in data["sections"]] == [
        "introduction",
        "explanation",
        "explanation_2",
        "explanation_3",
        "wrap_up",
    ]
    assert data["sections"][4] == {"id": "wrap_up", "type": "key_points", "points": ["x", "y"]}


def test_question_ids_kept_when_valid_else_numbered() -> None:
    quiz = [
        {"id": "spread", "type": "true_false", "text": "a", "correct_answer": True, "explanation": "x"},
        {"type": "true_false", "text": "b", "correct_answer": True, "explanation": "x"},
        {"id": "Q 3", "type": "true_false", "text": "c", "correct_answer": True, "explanation": "x"},
    ]
    result = run(lesson(quiz=quiz))
    assert [q["id"] for q in valid(result)["quiz"]["questions"]] == ["spread", "q2", "q3"]
    assert "$.quiz[2].id: 'Q 3' is not a valid or unique id -> q3" in result.notes


def test_repeated_question_ids_are_renumbered() -> None:
    quiz = [
        {"id": "q1", "type": "true_false", "text": t, "correct_answer": True, "explanation": "x"}
        for t in ("a", "b")
    ]
    assert [q["id"] for q in valid(run(lesson(quiz=quiz)))["quiz"]["questions"]] == ["q1", "q2"]


def test_invalid_lesson_id_is_a_problem() -> None:
    result = run(lesson(id="Stock-Basics-1"))
    assert result.data is None and any(p.startswith("$.id:") for p in result.problems)


# -- answers -----------------------------------------------------------------------------------
@pytest.mark.parametrize("flags", [(True, True, False), (False, False, False)])
def test_not_exactly_one_correct_option_is_a_problem(flags: tuple[bool, ...]) -> None:
    question = {
        "type": "multiple_choice",
        "text": "?",
        "options": [{"text": t, "is_correct": f} for t, f in zip("ABC", flags)],
        "explanation": "x",
    }
    result = run(lesson(quiz=[question]))
    assert result.data is None
    assert any(
        p.startswith("$.quiz[0].options:") and "exactly one correct option" in p for p in result.problems
    )


def test_correct_index_out_of_range_is_a_problem() -> None:
    question = {
        "type": "multiple_choice",
        "text": "?",
        "options": ["A", "B"],
        "correct": 2,
        "explanation": "x",
    }
    result = run(lesson(quiz={"questions": [question]}))
    assert any(p.startswith("$.quiz.questions[0].correct:") for p in result.problems)


def test_true_false_answer_written_as_text() -> None:
    quiz = [{"type": "true_false", "text": "?", "correct_answer": "True", "explanation": "x"}]
    result = run(lesson(quiz=quiz))
    assert valid(result)["quiz"]["questions"][0]["answer"] is True


def test_missing_explanation_is_a_problem() -> None:
    quiz = [{"type": "true_false", "text": "?", "correct_answer": True}]
    result = run(lesson(quiz=quiz))
    assert any(p.startswith("$.quiz[0].explanation:") for p in result.problems)


# -- content with no place: problems, unless dropping is allowed by name ------------------------
def test_unknown_field_with_content_is_a_problem_and_nothing_is_returned() -> None:
    result = run(lesson(next_lesson="stock_basics_002", fiml_integration={"enabled": True}))
    assert result.data is None
    assert any(p.startswith("$.next_lesson:") and "--drop-field next_lesson" in p for p in result.problems)
    assert any(p.startswith("$.fiml_integration:") for p in result.problems)


def test_drop_field_allows_dropping_by_name_with_a_note() -> None:
    result = run(lesson(next_lesson="stock_basics_002"), drop_fields={"next_lesson"})
    assert "next_lesson" not in valid(result)
    assert any(n.startswith("$.next_lesson: dropped") for n in result.notes)


def test_empty_fields_are_dropped_with_a_note() -> None:
    result = run(lesson(next_lesson=None, notes=[], prerequisites=[]))
    data = valid(result)
    assert "next_lesson" not in data and "notes" not in data and data["prerequisites"] == []
    assert "$.next_lesson: dropped (empty)" in result.notes and "$.notes: dropped (empty)" in result.notes


def test_section_field_with_no_place_is_a_problem() -> None:
    sections = [{"type": "explanation", "content": "x", "metadata": {"limit_price_offset": -0.5}}]
    result = run(lesson(sections=sections))
    assert any(p.startswith("$.sections[0].metadata:") for p in result.problems)


def test_unknown_section_type_is_a_problem_unless_shown_as_text() -> None:
    sections = [{"type": "interactive_exercise", "content": "Try it"}]
    result = run(lesson(sections=sections))
    assert any(
        p.startswith("$.sections[0].type:") and "--as-text interactive_exercise" in p for p in result.problems
    )
    data = valid(run(lesson(sections=sections), text_types={"interactive_exercise"}))
    assert data["sections"] == [{"id": "interactive_exercise", "type": "text", "body": "Try it"}]


def test_differing_completion_time_is_a_problem() -> None:
    result = run(lesson(estimated_completion_time="9 minutes"))
    assert any(p.startswith("$.estimated_completion_time:") for p in result.problems)


# -- section mappings --------------------------------------------------------------------------
def test_data_query_becomes_a_live_example_with_the_text_as_fallback() -> None:
    sections = [
        {"type": "introduction", "content": "Quotes."},
        {
            "type": "live_example",
            "title": "A live quote",
            "content": "At the time of writing, AAPL was bid $230.08, ask $230.12.\n",
            "fiml_query": {"symbol": "aapl", "metrics": ["price", "bid", "ask", "week_52_high"]},
        },
    ]
    result = run(lesson(sections=sections))
    data = valid(result)
    assert data["sections"][1] == {
        "id": "live_example",
        "type": "live_example",
        "title": "A live quote",
        "data": {"symbol": "AAPL", "metrics": ["price", "bid", "ask", "high_52w"]},
        "fallback": "At the time of writing, AAPL was bid $230.08, ask $230.12.\n",
    }


def test_live_example_problems_templates_metrics_and_query_fields() -> None:
    sections = [
        {
            "type": "live_example",
            "content": "Price of {symbol}: ${price}",
            "fiml_query": {"symbol": "AAPL", "market": "US", "metrics": ["price", "eps"]},
        }
    ]
    result = run(lesson(sections=sections))
    assert result.data is None
    assert any(p.startswith("$.sections[0].content:") and "{price}" in p for p in result.problems)
    assert any(p.startswith("$.sections[0].fiml_query.metrics[1]:") for p in result.problems)
    assert any(p.startswith("$.sections[0].fiml_query.market:") for p in result.problems)
    allowed = [{**sections[0], "content": "AAPL traded at $230."}]
    data = valid(run(lesson(sections=allowed), drop_fields={"market", "metrics"}))
    assert data["sections"][0]["data"] == {"symbol": "AAPL", "metrics": ["price"]}


def test_live_example_without_a_query_is_a_problem() -> None:
    result = run(lesson(sections=[{"type": "fiml_example", "content": "AAPL at $230"}]))
    assert any(p.startswith("$.sections[0]:") and "--as-text fiml_example" in p for p in result.problems)


def test_chart_section() -> None:
    sections = [
        {
            "type": "chart",
            "content": "SPY rose 20% over the year.",
            "fiml_query": {"symbol": "SPY", "timeframe": "1Y"},
        }
    ]
    data = valid(run(lesson(sections=sections)))
    assert data["sections"][0] == {
        "id": "chart",
        "type": "chart",
        "data": {"symbol": "SPY", "period": "1y", "kind": "line"},
        "fallback": "SPY rose 20% over the year.",
    }


def test_key_takeaways_that_are_not_a_plain_list_stay_text() -> None:
    text = "🎯 Your Action Plan:\n\n1. Write goals\n2. Automate\n\n💡 Best plan = one you'll follow!\n"
    result = run(lesson(sections=[{"type": "key_takeaways", "content": text}]))
    assert valid(result)["sections"] == [{"id": "key_takeaways", "type": "text", "body": text}]


def test_trailing_spaces_are_trimmed_with_a_note() -> None:
    result = run(lesson(sections=[{"type": "explanation", "content": "years of \nearnings   \n"}]))
    assert valid(result)["sections"][0]["body"] == "years of\nearnings\n"
    assert "trailing spaces removed from 2 line(s) of text" in result.notes


def test_category_and_difficulty_normalized_when_unambiguous() -> None:
    result = run(lesson(category="Technical Analysis", difficulty="Easy"))
    data = valid(result)
    assert data["category"] == "technical_analysis" and data["difficulty"] == "beginner"
    bad = run(lesson(difficulty="spicy"))
    assert any(p.startswith("$.difficulty:") for p in bad.problems)


def test_current_lesson_is_unchanged() -> None:
    current = valid(run(lesson()))
    again = run(current)
    assert again.changed is False and again.data == current and not again.notes and not again.problems


@pytest.mark.parametrize(
    "path",
    sorted((PROJECT / "content/lessons").glob("*.yaml")),
    ids=lambda p: p.stem,
)
def test_current_shape_without_format_maps_to_itself(path: Path) -> None:
    """A lesson in today's shape that only lacks `format` comes back field for field."""
    from fiml_cms.plain import to_plain

    current, _ = to_plain(load(path.read_text(encoding="utf-8")))
    result = run({k: v for k, v in current.items() if k != "format"})
    assert result.changed and not result.problems and result.data == current


def test_unknown_format_is_a_problem() -> None:
    result = run({**valid(run(lesson())), "format": 2})
    assert result.data is None and any(p.startswith("$.format:") for p in result.problems)


def test_too_long_section_is_reported_by_validation() -> None:
    long_text = "\n\n".join(["word " * 150] * 7)
    result = run(lesson(sections=[{"type": "explanation", "content": long_text}]))
    assert result.data is not None
    checked = check_text(dump_lesson(result.data).encode(), "x.yaml", stem=result.data["id"])
    assert any(f.code in ("FIML024", "FIML041") for f in checked.findings)


# -- dump_lesson -------------------------------------------------------------------------------
def test_dump_lesson_layout() -> None:
    data = valid(run(lesson()))
    text = dump_lesson(data)
    assert 'version: "2.0.0"\n' in text and '  - version: "2.0.0"\n' in text
    assert "tags:\n  - stock-basics\n" in text
    assert (
        "    body: |\n      Stock price = what buyers and sellers agree on.\n\n      More buyers = price up\n"
        in text
    )
    assert "🎯 Remember" in text


_SCALARS = st.one_of(
    st.text(),
    st.text(alphabet=" \n\t:#-|>'\"é🎯\r\x85\u2028", max_size=20),
    st.sampled_from(
        [
            "yes",
            "no",
            "on",
            "null",
            "~",
            "1.0",
            "0o7",
            "0x1F",
            "1_000",
            ".5",
            "2025-11-24",
            "12:30",
            "- x",
            "a: b",
            " lead",
            "trail ",
            "",
        ]
    ),
    st.integers(),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
)
_KEYS = st.sampled_from(["id", "version", "body", "title", "points", "yanked", "changes", "other"])
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_KEYS, inner, max_size=4)),
    max_leaves=20,
)


@hsettings(max_examples=300, deadline=None)
@given(st.dictionaries(_KEYS, _VALUES, max_size=6))
def test_dump_lesson_reads_back_exactly(data: dict[str, Any]) -> None:
    assert load(dump_lesson(data)) == data


# -- the command on files ------------------------------------------------------------------------
@pytest.fixture
def lessons_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    (root / "lessons").mkdir(parents=True)
    (root / ".fiml-cms.toml").write_text('lessons = "lessons"\n', encoding="utf-8")
    monkeypatch.chdir(root)
    return root / "lessons"


def write(folder: Path, name: str, data: Any) -> Path:
    path = folder / name
    path.write_text(dump_lesson(data) if isinstance(data, dict) else data, encoding="utf-8")
    return path


def run_upgrade(folder: Path, targets: list[Path] | None = None, **options: Any):
    kwargs = {"check": False, "dry_run": False, "rename": False, "today": TODAY, **options}
    return upgrade(targets or [], load_settings(folder.parent), **kwargs)


def test_upgrade_in_place_then_current(lessons_dir: Path) -> None:
    path = write(lessons_dir, "stock_basics_001.yaml", lesson())
    report = run_upgrade(lessons_dir)
    assert report.exit_code == 0 and [f.status for f in report.files] == [UPGRADED]
    data = load(path.read_text(encoding="utf-8"))
    assert data["format"] == 1 and data["changelog"][0]["date"] == TODAY  # not a git repository: dated today
    again = run_upgrade(lessons_dir)
    assert [f.status for f in again.files] == [CURRENT] and again.exit_code == 0
    assert "1 file(s): 0 upgraded, 1 already current" in again.render_text()


def test_check_changes_nothing_and_fails_when_needed(lessons_dir: Path) -> None:
    path = write(lessons_dir, "stock_basics_001.yaml", lesson())
    before = path.read_bytes()
    report = run_upgrade(lessons_dir, check=True)
    assert report.exit_code == 1 and path.read_bytes() == before
    assert "would be upgraded" in report.render_text()
    run_upgrade(lessons_dir)
    assert run_upgrade(lessons_dir, check=True).exit_code == 0


def test_dry_run_prints_a_diff_and_changes_nothing(lessons_dir: Path) -> None:
    path = write(lessons_dir, "01_prices.yaml", lesson())
    before = path.read_bytes()
    report = run_upgrade(lessons_dir, dry_run=True, rename=True)
    text = report.render_text()
    assert (
        report.exit_code == 0
        and path.read_bytes() == before
        and not (lessons_dir / "stock_basics_001.yaml").exists()
    )
    assert "--- a/lessons/01_prices.yaml" in text and "+++ b/lessons/stock_basics_001.yaml" in text
    assert '+version: "2.0.0"' in text and "+format: 1" in text


def test_non_lessons_are_skipped_and_broken_yaml_is_a_problem(lessons_dir: Path) -> None:
    write(lessons_dir, "settings.yaml", "theme: dark\n")
    write(lessons_dir, "list.yml", "- a\n- b\n")
    write(lessons_dir, "broken.yaml", "id: [unclosed\n")
    write(lessons_dir, "notes.txt", "id: not yaml\n")
    report = run_upgrade(lessons_dir)
    status = {f.display.rsplit("/", 1)[-1]: f.status for f in report.files}
    assert status == {"broken.yaml": PROBLEMS, "list.yml": SKIPPED, "settings.yaml": SKIPPED}
    assert report.exit_code == 1


def test_file_with_problems_is_left_byte_for_byte(lessons_dir: Path) -> None:
    path = write(lessons_dir, "stock_basics_001.yaml", lesson(next_lesson="x_002"))
    before = path.read_bytes()
    report = run_upgrade(lessons_dir)
    assert report.exit_code == 1 and path.read_bytes() == before
    assert "$.next_lesson" in report.render_text()
    fixed = run_upgrade(lessons_dir, drop_fields=["next_lesson"])
    assert fixed.exit_code == 0 and "next_lesson" not in load(path.read_text(encoding="utf-8"))


def test_without_rename_a_mismatched_name_gets_a_note(lessons_dir: Path) -> None:
    write(lessons_dir, "01_prices.yaml", lesson())
    report = run_upgrade(lessons_dir)
    assert report.exit_code == 0 and (lessons_dir / "01_prices.yaml").exists()
    assert any("--rename" in n for n in report.files[0].notes)


def test_rename_writes_id_file_and_removes_the_old_name(lessons_dir: Path) -> None:
    write(lessons_dir, "01_prices.yaml", lesson())
    report = run_upgrade(lessons_dir, rename=True)
    assert report.exit_code == 0 and not (lessons_dir / "01_prices.yaml").exists()
    assert (
        load((lessons_dir / "stock_basics_001.yaml").read_text(encoding="utf-8"))["id"] == "stock_basics_001"
    )


def test_rename_refuses_an_existing_target(lessons_dir: Path) -> None:
    write(lessons_dir, "01_prices.yaml", lesson())
    other = write(lessons_dir, "stock_basics_001.yaml", "id: something_else\ntitle: kept\n")
    before = other.read_bytes()
    report = run_upgrade(lessons_dir, rename=True)
    assert (
        report.exit_code == 1 and other.read_bytes() == before and (lessons_dir / "01_prices.yaml").exists()
    )
    assert any("already exists" in p for f in report.files for p in f.problems)


def test_rename_of_a_current_lesson_keeps_its_bytes(lessons_dir: Path) -> None:
    text = "# a comment the rename keeps\n" + dump_lesson(valid(run(lesson())))
    write(lessons_dir, "old_name.yaml", text)
    report = run_upgrade(lessons_dir, rename=True)
    assert (
        report.exit_code == 0 and (lessons_dir / "stock_basics_001.yaml").read_text(encoding="utf-8") == text
    )


def test_duplicate_ids_are_reported_and_neither_file_touched(lessons_dir: Path) -> None:
    a = write(lessons_dir, "01_prices.yaml", lesson())
    b = write(lessons_dir, "02_prices_again.yaml", lesson(title="Another"))
    before = a.read_bytes(), b.read_bytes()
    report = run_upgrade(lessons_dir, rename=True)
    assert report.exit_code == 1 and (a.read_bytes(), b.read_bytes()) == before
    assert [f.duplicate_of for f in report.files] == [
        ["lessons/02_prices_again.yaml"],
        ["lessons/01_prices.yaml"],
    ]


def test_usage_errors(lessons_dir: Path) -> None:
    with pytest.raises(UsageError):
        run_upgrade(lessons_dir, [lessons_dir / "missing.yaml"])
    (lessons_dir / "x.json").write_text("{}", encoding="utf-8")
    with pytest.raises(UsageError):
        run_upgrade(lessons_dir, [lessons_dir / "x.json"])
    shutil.rmtree(lessons_dir)
    with pytest.raises(UsageError):
        run_upgrade(lessons_dir)


# -- the real corpus ---------------------------------------------------------------------------
def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if not BUNDLE.is_file():
        pytest.skip(f"corpus bundle not found at {BUNDLE}")
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    empty = tmp_path / "gitconfig"
    empty.write_text("", encoding="utf-8")
    for name, value in {
        "GIT_AUTHOR_NAME": "Test Author", "GIT_AUTHOR_EMAIL": "author@example.com",
        "GIT_COMMITTER_NAME": "Test Committer", "GIT_COMMITTER_EMAIL": "committer@example.com",
        "GIT_CONFIG_GLOBAL": str(empty), "GIT_CONFIG_NOSYSTEM": "1",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    root = tmp_path / "fiml-lessons"
    subprocess.run(
        ["git", "clone", "-q", str(BUNDLE), str(root)], check=True, capture_output=True, env=os.environ.copy()
    )
    (root / ".fiml-cms.toml").write_text('lessons = "."\n', encoding="utf-8")
    monkeypatch.chdir(root)
    return root


def test_corpus_upgrade_with_rename(corpus: Path) -> None:
    numbered = sorted(p.name for p in corpus.glob("[0-9][0-9]_*.yaml"))
    assert len(numbered) == 20
    ids = {name: load((corpus / name).read_text(encoding="utf-8"))["id"] for name in numbered}
    first_dates = {
        name: _git(corpus, "log", "--reverse", "--format=%aI", "--", name).split()[0][:10]
        for name in numbered
    }
    stray = corpus / "stock_basics_002.yaml"
    twin = corpus / "02_market_orders_vs_limit_orders.yaml"
    stray_bytes, twin_bytes = stray.read_bytes(), twin.read_bytes()
    settings = load_settings(corpus)

    report = upgrade([], settings, check=False, dry_run=False, rename=True, today=TODAY)
    by_name = {f.path.name: f for f in report.files}
    # The stray placeholder claims lesson 02's id: lesson 02 was in the repository first, so it keeps
    # the id and is upgraded; the stray is reported as its duplicate and left exactly as it was.
    assert by_name["stock_basics_002.yaml"].duplicate_of == ["02_market_orders_vs_limit_orders.yaml"]
    assert any("was in the repository first" in p for p in by_name["stock_basics_002.yaml"].problems)
    assert by_name["02_market_orders_vs_limit_orders.yaml"].duplicate_of == []
    assert stray.read_bytes() == stray_bytes
    assert report.exit_code == 1
    assert all(
        by_name[n].status == UPGRADED and by_name[n].written and not by_name[n].problems for n in numbered
    )
    # Lesson 02 cannot take the name stock_basics_002.yaml while the stray holds it: upgraded in place.
    assert twin.read_bytes() != twin_bytes and any("not renamed" in n for n in by_name[twin.name].notes)
    first = [corpus / f"{ids[n]}.yaml" for n in numbered if n != twin.name] + [twin]
    result = validate(first, settings)
    assert {(Path(f.file).name, f.code) for f in result.findings} == {
        (twin.name, "FIML030"),
        (twin.name, "FIML031"),
    }

    # The author removes the placeholder and runs upgrade again: lesson 02 takes its name.
    _git(corpus, "rm", "-q", stray.name)
    _git(corpus, "commit", "-q", "-m", "Remove the placeholder duplicating stock_basics_002")
    again = upgrade([], settings, check=False, dry_run=False, rename=True, today=TODAY)
    assert again.exit_code == 0, again.render_text()
    upgraded = [corpus / f"{ids[name]}.yaml" for name in numbered]
    assert all(p.is_file() for p in upgraded) and not list(corpus.glob("[0-9][0-9]_*.yaml"))
    result = validate(upgraded, settings)
    assert result.errors == 0 and result.warnings == 0, [(f.file, f.code, f.message) for f in result.findings]
    for name in numbered:
        data = load((corpus / f"{ids[name]}.yaml").read_text(encoding="utf-8"))
        # No legacy lesson had a changelog at HEAD: one entry, dated when the file first appeared.
        assert data["changelog"] == [
            {"version": data["version"], "date": first_dates[name], "changes": [IMPORTED]}
        ]
        assert data["version"] == "2.0.0" and data["format"] == 1
        # At HEAD no lesson lists prerequisites (the 2.0 commit removed them with the id renames).
        assert "prerequisites" not in data
    assert run_upgrade_check(corpus) == 0


def run_upgrade_check(root: Path) -> int:
    return upgrade([], load_settings(root), check=True, dry_run=False, rename=True, today=TODAY).exit_code


# -- the command line ------------------------------------------------------------------------------
def test_cli_upgrade(lessons_dir: Path) -> None:
    from typer.testing import CliRunner

    from fiml_cms.cli import app

    runner = CliRunner()
    write(lessons_dir, "01_prices.yaml", lesson(next_lesson="x_002"))
    result = runner.invoke(app, ["upgrade", "--check"])
    assert result.exit_code == 1 and "$.next_lesson" in result.output
    result = runner.invoke(app, ["upgrade", "--dry-run", "--rename", "--drop-field", "next_lesson"])
    assert result.exit_code == 0 and "+++ b/lessons/stock_basics_001.yaml" in result.output
    result = runner.invoke(app, ["upgrade", "--rename", "--drop-field", "next_lesson"])
    assert result.exit_code == 0, result.output
    assert (lessons_dir / "stock_basics_001.yaml").is_file() and not (lessons_dir / "01_prices.yaml").exists()
    assert runner.invoke(app, ["upgrade", "--check", "--rename"]).exit_code == 0
    assert runner.invoke(app, ["validate"]).exit_code == 0
    result = runner.invoke(app, ["upgrade", "missing.yaml"])
    assert result.exit_code == 2 and "no such file" in result.output
