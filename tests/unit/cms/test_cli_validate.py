"""`fiml-cms validate` through the real CLI: exit codes, formats and exact positions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fiml_cms.cli import app
from testing.repo import PROJECT, line_col_of

runner = CliRunner()
LESSON = Path("content/lessons/reading_stock_prices.yaml")


def run(*args: str, env: dict[str, str] | None = None):
    result = runner.invoke(app, ["validate", *args], env=env or {"GITHUB_ACTIONS": "false"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def mutate(path: Path, old: str, new: str) -> tuple[int, int]:
    """Replace the first `old` with `new` and return the position of `new`."""
    text = path.read_text(encoding="utf-8")
    assert old in text
    text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
    return line_col_of(text, new)


def test_bundled_content_is_clean(content_repo: Path) -> None:
    result = run()
    assert result.exit_code == 0, result.output
    assert re.search(r"^\d+ files checked: 0 error\(s\), 0 warning\(s\)$", result.output, re.M)


def test_project_content_is_clean() -> None:
    """The content shipped in the repository itself (what `make run` validates)."""
    result = run(str(PROJECT / "content"))
    assert result.exit_code == 0, result.output


def _positions(content_repo: Path, case: str) -> tuple[str, int, int, str]:
    path = content_repo / LESSON
    if case == "answer":
        text = path.read_text(encoding="utf-8")
        match = re.search(r"type: multiple_choice\n(?:.*\n)*?\s+answer: (\d+)", text)
        assert match
        start = match.start(1)
        path.write_text(text[:start] + "7" + text[match.end(1) :], encoding="utf-8")
        line, col = line_col_of(text, match.group(0)[-len(match.group(1)) - len("answer: ") :])
        return "FIML035", line, col + len("answer: "), "$.quiz.questions[0].answer"
    if case == "unknown":
        line, col = mutate(path, "\ncategory:", "\ncolour: red\ncategory:")
        return "FIML021", line + 1, 1, "$.colour"
    if case == "type":
        line, col = mutate(path, "duration_minutes: 6", "duration_minutes: six")
        return "FIML022", line, col + len("duration_minutes: "), "$.duration_minutes"
    if case == "duplicate":
        other = content_repo / "content/lessons/what_is_a_market.yaml"
        mutate(other, "\nreplaces: []", "\nreplaces: [reading_stock_prices]")
        line, col = line_col_of(path.read_text(encoding="utf-8"), "id: reading_stock_prices")
        return "FIML031", line, col + len("id: "), "$.id"
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["answer", "unknown", "type", "duplicate"])
def test_mutation_is_reported_at_its_node_in_every_format(content_repo: Path, case: str) -> None:
    code, line, col, json_path = _positions(content_repo, case)

    text = run(str(LESSON), "--format", "text")
    assert text.exit_code == 1
    assert f"{LESSON.as_posix()}:{line}:{col}: error {code} " in text.output
    assert f"[{json_path}]" in text.output

    document = json.loads(run(str(LESSON), "--format", "json").output)
    matching = [f for f in document["findings"] if f["code"] == code]
    assert matching and (matching[0]["line"], matching[0]["column"], matching[0]["path"]) == (
        line,
        col,
        json_path,
    )
    assert document["files"] == 1 and document["errors"] >= 1

    github = run(str(LESSON), "--format", "github").output
    assert f"::error file={LESSON.as_posix()},line={line},col={col},title={code}::" in github

    sarif = json.loads(run(str(LESSON), "--format", "sarif").output)
    results = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == code]
    region = results[0]["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == (line, col)


def test_exact_text_output(content_repo: Path) -> None:
    path = content_repo / LESSON
    line, col = mutate(path, "duration_minutes: 6", "duration_minutes: true")
    result = run(str(LESSON))
    assert result.output == (
        f"{LESSON.as_posix()}:{line}:{col + 18}: error FIML022 `duration_minutes` must be a whole number, "
        "not the boolean true [$.duration_minutes]\n"
        "1 file checked: 1 error(s), 0 warning(s)\n"
    )


def test_github_format_is_default_under_github_actions(content_repo: Path) -> None:
    mutate(content_repo / LESSON, "duration_minutes: 6", "duration_minutes: 0")
    result = run(str(LESSON), env={"GITHUB_ACTIONS": "true"})
    assert result.output.startswith("::error file=content/lessons/reading_stock_prices.yaml,line=")
    assert "title=FIML024::" in result.output


def test_github_escapes_newlines_and_percent(content_repo: Path) -> None:
    mutate(content_repo / LESSON, "title: Reading a Stock Quote", 'title: "100%"\ntitle: again')
    out = run(str(LESSON), "--format", "github").output
    assert out.count("\n") == 1 and "::error " in out


def test_warning_passes_unless_strict(content_repo: Path) -> None:
    long = "word " * 260
    mutate(content_repo / LESSON, "A stock does not have just one price.", long.strip())
    assert run(str(LESSON)).exit_code == 0
    strict = run(str(LESSON), "--strict")
    assert strict.exit_code == 1 and "FIML050" in strict.output


def test_missing_target_is_a_usage_error(content_repo: Path) -> None:
    result = run("content/lessons/nope.yaml")
    assert result.exit_code == 2
    assert "nope.yaml: no such file or folder" in result.output


def test_unknown_format_is_a_usage_error(content_repo: Path) -> None:
    result = run("--format", "xml")
    assert result.exit_code == 2 and "unknown format 'xml'" in result.output


def test_one_file_is_checked_against_the_whole_repository(content_repo: Path) -> None:
    """A prerequisite defined in another file is found; that file's problems are not reported."""
    mutate(
        content_repo / "content/lessons/what_is_a_market.yaml",
        "duration_minutes:",
        "duration_minutes: x\nzz:",
    )
    result = run(str(LESSON), "--format", "json")
    assert json.loads(result.output)["findings"] == []


def test_lessons_option_and_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "r"
    (root / "lessons_here").mkdir(parents=True)
    (root / ".fiml-cms.toml").write_text('lessons = "lessons_here"\n', encoding="utf-8")
    source = PROJECT / "content/lessons/what_is_a_market.yaml"
    (root / "lessons_here/what_is_a_market.yaml").write_bytes(source.read_bytes())
    monkeypatch.chdir(root)
    assert run().exit_code == 0
    broken = root / ".fiml-cms.toml"
    broken.write_text("lessons = [\n", encoding="utf-8")
    result = run()
    assert result.exit_code == 2 and ".fiml-cms.toml" in result.output
