"""Issue 27: `--json` output in the one envelope (`{"schema": ..., "version": 1, ...}`), each command's
output checked against its JSON Schema in schemas/output/."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema_rs
import pytest

from fiml_cms.store import git_blob_sha
from testing.cli import cli
from testing.output_schema import OUTPUT_SCHEMAS, conforms
from testing.repo import PROJECT


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


@pytest.mark.parametrize("command", ["validate", "check", "diff", "archive", "versions", "show"])
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


def test_show_json_carries_the_tagged_bytes(git_repo: Path) -> None:
    assert cli("tag", "what_is_a_market").exit_code == 0
    tagged = subprocess.run(
        ["git", "show", "lesson/what_is_a_market/v1.0.0:content/lessons/what_is_a_market.yaml"],
        cwd=git_repo,
        capture_output=True,
        check=True,
    ).stdout
    lesson = git_repo / "content/lessons/what_is_a_market.yaml"
    lesson.write_text("edited after the tag\n", "utf-8")  # the work tree is not what show reads
    document = conforms(cli("show", "what_is_a_market@1.0.0", "--json").stdout, "fiml-cms/show")
    assert document["lesson"] == "what_is_a_market" and document["lesson_version"] == "1.0.0"
    assert document["tag"] == "lesson/what_is_a_market/v1.0.0" and not document["yanked"]
    assert document["encoding"] == "utf-8" and document["content"].encode("utf-8") == tagged
    assert document["blob"] == git_blob_sha(tagged)
    assert cli("show", "what_is_a_market@9.9.9", "--json").exit_code == 2


REPORTING = [
    ("fiml-cms", "validate"),
    ("fiml-cms", "check"),
    ("fiml-cms", "diff"),
    ("fiml-cms", "versions"),
    ("fiml-cms", "show"),
    ("fiml-cms", "archive"),
    ("fiml-bot", "doctor"),
    ("fiml-bot", "db current"),
    ("fiml-bot", "db snapshots"),
    ("fiml-bot", "release status"),
    ("fiml-bot", "flags explain"),
    ("fiml-bot", "canary status"),
    ("fiml-bot", "progress export"),
]


@pytest.mark.parametrize(("program", "command"), REPORTING)
def test_every_reporting_command_of_the_issue_takes_json_and_has_a_schema(program: str, command: str) -> None:
    """Issue 27's list: each command that reports takes --json, and its output has a schema."""
    import typer

    from fiml_bot.cli import app as bot
    from fiml_cms.cli import app as cms

    node = typer.main.get_command(cms if program == "fiml-cms" else bot)
    for word in command.split():
        node = node.commands[word]  # type: ignore[attr-defined]
    assert any("--json" in getattr(p, "opts", []) for p in node.params), f"{program} {command}"
    name = f"{program}/{command.replace(' ', '-')}"
    assert (OUTPUT_SCHEMAS / f"{name.replace('/', '-')}.schema.json").is_file(), name
