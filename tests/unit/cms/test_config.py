"""Issue 15.10: a `[tool.fiml-cms]` table pasted into `.fiml-cms.toml` works; a misspelt key is refused."""

from __future__ import annotations

from pathlib import Path

from fiml_cms.config import load_settings
from testing.cli import cli


def test_a_pasted_tool_table_in_the_dedicated_file_is_read(content_repo: Path) -> None:
    (content_repo / "lessons").mkdir()
    (content_repo / ".fiml-cms.toml").write_text('[tool.fiml-cms]\nlessons = "lessons"\n', encoding="utf-8")
    assert load_settings(content_repo).lessons == (content_repo / "lessons").resolve()


def test_a_misspelt_key_names_the_file_the_line_and_the_valid_keys(content_repo: Path) -> None:
    (content_repo / ".fiml-cms.toml").write_text(
        '# where things are\ncontent = "content"\nlesons = "content/lessons"\n', encoding="utf-8"
    )
    result = cli("validate")
    assert result.exit_code == 2
    assert ".fiml-cms.toml:3: unknown setting `lesons`; did you mean `lessons`?" in result.output
    assert "valid: content, lessons, paths, archive, tag_format, release_branches, policy" in result.output


def test_a_misspelt_key_in_pyproject_and_in_policy(content_repo: Path) -> None:
    (content_repo / ".fiml-cms.toml").unlink()
    (content_repo / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.fiml-cms]\ntag_fromat = "v{id}-{version}"\n', encoding="utf-8"
    )
    result = cli("validate")
    assert (
        result.exit_code == 2
        and "pyproject.toml:5: unknown setting `tag_fromat`; did you mean `tag_format`?" in result.output
    )
    (content_repo / "pyproject.toml").write_text(
        "[tool.fiml-cms.policy]\nnotify_minor_step = 3\n", encoding="utf-8"
    )
    result = cli("validate")
    assert (
        result.exit_code == 2
        and "pyproject.toml:2: unknown policy setting `notify_minor_step`" in result.output
    )


def test_mixing_both_shapes_is_refused(content_repo: Path) -> None:
    (content_repo / ".fiml-cms.toml").write_text(
        'content = "content"\n[tool.fiml-cms]\nlessons = "content/lessons"\n', encoding="utf-8"
    )
    result = cli("validate")
    assert result.exit_code == 2 and "not both" in result.output
