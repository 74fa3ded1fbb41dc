"""Property tests: whatever bytes or YAML-shaped data come in, only clean findings come out.

The number of examples comes from the hypothesis profile (tests/conftest.py): about a thousand inputs
under `make test`, more than 10,000 under `.ci/run`, in memory (`check_text`) and through the files
`fiml-cms validate` reads (`validate` on a repository folder, with context and positions).
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fiml_cms.commands.validate import display_name, validate
from fiml_cms.config import Settings, load_settings
from fiml_cms.document import check_text
from fiml_cms.findings import RULES
from testing.fuzz_counts import COUNTS
from testing.repo import PROJECT

LESSONS = PROJECT / "content/lessons"
SAMPLE = (LESSONS / "reading_stock_prices.yaml").read_bytes()

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30))
json_like = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=30,
)
yaml_fragments = st.sampled_from(
    [
        "a: 1\n",
        "- x\n",
        "&a [*a]\n",
        "? [1]\n: 2\n",
        "!!binary aGk=\n",
        "!!set {a}\n",
        "\t- x\n",
        "{",
        "]",
        "'",
        '"\\x',
        "%YAML 1.1\n---\n",
        "...\n",
        "*nope\n",
        "<<: {a: 1}\n",
        "2024-13-45\n",
        "id: ../../etc/x\n",
    ]
)


def assert_clean(data: bytes) -> None:
    COUNTS["in memory"] += 1
    checked = check_text(data, "fuzz.yaml", stem="fuzz")
    assert_findings_clean(checked.findings, "fuzz.yaml")


def assert_findings_clean(findings: list, file: str) -> None:
    for finding in findings:
        assert finding.code in RULES
        assert finding.line >= 1 and finding.column >= 1
        assert finding.message and finding.file == file


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_arbitrary_bytes(data: bytes) -> None:
    assert_clean(data)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=2000))
def test_arbitrary_text(text: str) -> None:
    assert_clean(text.encode("utf-8", errors="surrogatepass"))


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(yaml_fragments, max_size=12))
def test_yaml_fragments(parts: list[str]) -> None:
    assert_clean("".join(parts).encode())


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_like)
def test_yaml_shaped_data(data: object) -> None:
    assert_clean(json.dumps(data).encode())


@cache
def sample_lesson() -> Any:
    """The real lesson, parsed once (each example mutates a deep copy)."""
    from ruamel.yaml import YAML

    return YAML(typ="safe").load(SAMPLE)


def mutated_lesson(data: st.DataObject) -> bytes:
    """A real lesson with one random subtree replaced, as JSON (which is YAML)."""
    lesson = copy.deepcopy(sample_lesson())
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
    return json.dumps(lesson, default=str).encode()


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_lesson(data: st.DataObject) -> None:
    """A real lesson with one random subtree replaced: the rules must cope with any shape."""
    assert_clean(mutated_lesson(data))


# -- through the files `fiml-cms validate` reads -----------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_repository(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Settings]:
    """A repository folder with one real lesson (context for the repository rules) and `fuzz.yaml`."""
    root = tmp_path_factory.mktemp("fuzz-repo")
    lessons = root / "content" / "lessons"
    lessons.mkdir(parents=True)
    (lessons / "what_is_a_market.yaml").write_bytes((LESSONS / "what_is_a_market.yaml").read_bytes())
    (root / ".fiml-cms.toml").write_text("# defaults\n", encoding="utf-8")
    return lessons / "reading_stock_prices.yaml", load_settings(root)


def validate_file(target: Path, settings: Settings, data: bytes) -> None:
    COUNTS["through files"] += 1
    target.write_bytes(data)
    result = validate([target], settings)
    assert result.files == 1
    assert_findings_clean(result.findings, display_name(target))


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_lesson_through_a_file(fuzz_repository: tuple[Path, Settings], data: st.DataObject) -> None:
    validate_file(*fuzz_repository, mutated_lesson(data))


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(
    st.one_of(
        st.binary(max_size=2000),
        st.lists(yaml_fragments, max_size=12).map(lambda parts: "".join(parts).encode()),
    )
)
def test_arbitrary_bytes_through_a_file(fuzz_repository: tuple[Path, Settings], data: bytes) -> None:
    validate_file(*fuzz_repository, data)
