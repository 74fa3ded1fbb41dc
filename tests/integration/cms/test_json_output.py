"""Issue 27: `--json` output in the one envelope (`{"schema": ..., "version": 1, ...}`), each command's
output checked against its JSON Schema in schemas/output/."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema_rs
import pytest

from testing.cli import cli
from testing.repo import PROJECT

OUTPUT_SCHEMAS = PROJECT / "schemas" / "output"


def conforms(text: str, name: str) -> dict:
    document = json.loads(text)
    envelope = json.loads((OUTPUT_SCHEMAS / "envelope.schema.json").read_text(encoding="utf-8"))
    jsonschema_rs.validate(envelope, document)
    schema = json.loads(
        (OUTPUT_SCHEMAS / f"{name.replace('/', '-')}.schema.json").read_text(encoding="utf-8")
    )
    jsonschema_rs.validate(schema, document)
    assert document["schema"] == name and document["version"] == 1
    assert list(document)[:2] == ["schema", "version"]
    return document


def test_every_output_schema_is_valid_and_declares_the_envelope() -> None:
    files = sorted(OUTPUT_SCHEMAS.glob("*.schema.json"))
    assert len(files) >= 5
    for path in files:
        schema = json.loads(path.read_text(encoding="utf-8"))
        jsonschema_rs.Draft202012Validator(schema)  # compiles
        if path.name != "envelope.schema.json":
            assert {"schema", "version"} <= set(schema["required"]), path.name


def test_validate_json(content_repo: Path) -> None:
    clean = conforms(cli("validate", "--json").stdout, "fiml-cms/validate")
    assert clean["errors"] == 0 and clean["findings"] == []
    lesson = content_repo / "content/lessons/what_is_a_market.yaml"
    lesson.write_text(
        lesson.read_text(encoding="utf-8").replace('version: "1.0.0"', "version: 1.0", 1), "utf-8"
    )
    result = cli("validate", "--json")
    assert result.exit_code == 1
    found = conforms(result.stdout, "fiml-cms/validate")
    assert any(
        f["code"] == "FIML022" and f["fix"] == {"action": "set", "value": "1.0.0"} for f in found["findings"]
    )
    assert cli("validate", "--format", "json").stdout == result.stdout


def test_check_and_archive_json(git_repo: Path) -> None:
    conforms(cli("check", "--base", "HEAD", "--json").stdout, "fiml-cms/check")
    assert cli("tag", "what_is_a_market").exit_code == 0
    conforms(cli("archive", "--check", "--json").stdout, "fiml-cms/archive")


def test_diff_json(git_repo: Path) -> None:
    assert cli("tag", "what_is_a_market").exit_code == 0
    lesson = git_repo / "content/lessons/what_is_a_market.yaml"
    lesson.write_text(
        lesson.read_text(encoding="utf-8").replace("title: What Is a Market?", "title: Markets"), "utf-8"
    )
    document = conforms(cli("diff", "what_is_a_market", "--json").stdout, "fiml-cms/diff")
    assert document["lesson"] == "what_is_a_market" and document["changes"]


def test_versions_json(git_repo: Path) -> None:
    assert cli("tag", "what_is_a_market").exit_code == 0
    document = conforms(cli("versions", "what_is_a_market", "--json").stdout, "fiml-cms/versions")
    assert [v["version"] for v in document["versions"]] == ["1.0.0"]


def test_json_and_another_format_disagree(content_repo: Path) -> None:
    result = cli("validate", "--json", "--format", "sarif")
    assert result.exit_code == 2 and "disagree" in result.output


@pytest.mark.parametrize("command", ["validate", "check", "diff", "archive", "versions"])
def test_json_is_offered(command: str) -> None:
    assert "--json" in cli(command, "--help").stdout


def test_db_current_json(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from fiml_bot.cli import app as bot

    url = f"sqlite:///{tmp_path / 'fiml.db'}"
    empty = conforms(
        CliRunner().invoke(bot, ["db", "current", "--database", url, "--json"]).stdout, "fiml-bot/db-current"
    )
    assert empty["current"] is None and empty["state"] == "upgrade"
    assert CliRunner().invoke(bot, ["db", "upgrade", "--database", url, "--no-snapshot"]).exit_code == 0
    done = conforms(
        CliRunner().invoke(bot, ["db", "current", "--database", url, "--json"]).stdout, "fiml-bot/db-current"
    )
    assert done["current"] == done["head"] and done["state"] == "up to date"


def test_db_snapshots_json(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from fiml_bot.cli import app as bot

    url, out = f"sqlite:///{tmp_path / 'fiml.db'}", str(tmp_path / "snapshots")
    runner = CliRunner()
    assert runner.invoke(bot, ["db", "upgrade", "--database", url, "--no-snapshot"]).exit_code == 0
    for _ in range(2):
        assert runner.invoke(bot, ["db", "snapshot", "--database", url, "--out", out]).exit_code == 0
    listed = conforms(
        runner.invoke(bot, ["db", "snapshots", "--out", out, "--json"]).stdout, "fiml-bot/db-snapshots"
    )
    assert len(listed["snapshots"]) == 2 and listed["unreadable"] == []
    pruned = runner.invoke(
        bot, ["db", "snapshots", "--out", out, "--keep", "1", "--dry-run", "--json"]
    ).stdout
    assert len(conforms(pruned, "fiml-bot/db-snapshots")["would_delete"]) == 1
