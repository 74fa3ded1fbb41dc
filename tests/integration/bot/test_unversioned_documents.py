"""Progress documents without `schema_version` (issue 26): read as 0.9 when they have its shape, else refused."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fiml_bot.cli import app as bot_app
from fiml_bot.documents import InvalidDocument, export_learner, prepare_import
from fiml_bot.storage import open_storage
from fiml_bot.storage.migrations_api import upgrade
from testing.repo import PROJECT

ORIGIN = PROJECT / "tests" / "examples" / "progress" / "origin_0_9.json"


def origin() -> dict[str, Any]:
    """The origin project's document: the seed's shape, written before `schema_version` existed."""
    document = json.loads(ORIGIN.read_text(encoding="utf-8"))
    assert "schema_version" not in document
    return document


def run_bot(*args: str):
    result = CliRunner().invoke(bot_app, list(args), env={"FIML_DATABASE_URL": "", "FIML_CONTENT_REPO": ""})
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def test_the_origin_projects_document_is_read_as_0_9_and_migrated() -> None:
    document = origin()
    before = copy.deepcopy(document)
    [prepared] = prepare_import(document, source="origin.json")
    assert document == before  # never changed
    assert prepared.migrated == ("0.9 -> 1.0",)
    assert prepared.warnings[0] == "no schema_version: read as 0.9 (it has 0.9's shape)"
    records = prepared.records
    assert records.learner.id == "telegram:123456"
    assert records.total_xp == 120
    assert [p.lesson_id for p in records.progress] == ["stock_basics_001", "stock_basics_002"]


def test_the_same_document_with_schema_version_added_by_hand_gives_the_same_records() -> None:
    with_version = {**origin(), "schema_version": "0.9"}
    [by_hand] = prepare_import(with_version)
    [read] = prepare_import(origin())
    assert read.records == by_hand.records


def test_a_bundle_may_hold_documents_without_a_version() -> None:
    bundle = {"schema_version": "1.0", "users": [origin(), {**origin(), "user_id": "telegram_7"}]}
    prepared = prepare_import(bundle)
    assert [p.records.learner.id for p in prepared] == ["telegram:123456", "telegram:7"]


def test_a_document_of_1_0_s_shape_without_its_version_is_refused_with_the_reason() -> None:
    from fiml_bot.storage import MemoryStorage

    storage = MemoryStorage()
    [prepared] = prepare_import(origin())
    from fiml_bot.documents import apply_import

    apply_import(storage, [prepared])
    current = export_learner(storage, "telegram:123456")
    del current["schema_version"]
    with pytest.raises(InvalidDocument) as raised:
        prepare_import(current, source="new.json")
    message = str(raised.value)
    assert "new.json" in message and "$.schema_version" in message
    assert "the document has 1.0's shape" in message and 'add "schema_version": "1.0"' in message


def test_a_document_of_no_known_shape_is_refused_naming_what_does_not_fit_0_9() -> None:
    document = {"user_id": "user_123", "lessons": {"lesson_001": {"completed": True}}, "xp": 100}
    with pytest.raises(InvalidDocument) as raised:
        prepare_import(document, source="odd.json")
    message = str(raised.value)
    assert "the required field `schema_version` is missing, and the document is not a 0.9 document" in message
    assert "$.xp: unknown field" in message
    assert "$.lessons.lesson_001" in message


def test_the_cli_imports_the_origin_document_and_says_how_it_was_read(
    tmp_path: Path, sqlite_url: str
) -> None:
    upgrade(sqlite_url)
    result = run_bot("progress", "import", str(ORIGIN), "--database", sqlite_url)
    assert result.exit_code == 0, result.output
    assert "migrated 0.9 -> 1.0" in result.output
    assert "telegram:123456: no schema_version: read as 0.9" in result.output
    with open_storage(sqlite_url) as storage, storage() as uow:
        assert uow.progress.xp_total("telegram:123456") == 120
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps({"user_id": "u", "xp": 1}), encoding="utf-8")
    result = run_bot("progress", "import", str(odd), "--database", sqlite_url)
    assert result.exit_code == 1 and "`schema_version` is missing" in result.output
    assert "Traceback" not in result.output
