"""Issue 10.11: the SQLite database holds learners' names and progress, so it and its folder are private."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from fiml_bot.storage import open_storage
from fiml_bot.storage.migrations_api import upgrade
from fiml_bot.tutor.model import Learner


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> None:
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_upgrade_creates_a_private_folder_and_database(tmp_path: Path) -> None:
    database = tmp_path / "var" / "fiml.db"
    upgrade(f"sqlite:///{database}")
    assert mode(database.parent) == 0o700
    assert mode(database) == 0o600


def test_the_wal_files_are_private_too(tmp_path: Path) -> None:
    database = tmp_path / "var" / "fiml.db"
    url = f"sqlite:///{database}"
    upgrade(url)
    with open_storage(url) as storage:
        with storage() as uow:
            uow.progress.save_learner(Learner("telegram:1", name="Ada"))
            uow.commit()
        wal = database.with_name("fiml.db-wal")
        assert wal.exists() and mode(wal) == 0o600


def test_a_database_opened_without_upgrade_is_created_private(tmp_path: Path) -> None:
    database = tmp_path / "fiml.db"
    url = f"sqlite:///{database}"
    from fiml_bot.storage.database import make_engine

    engine = make_engine(url)
    with engine.connect():
        pass
    engine.dispose()
    assert mode(database) == 0o600


def test_an_existing_folder_keeps_its_mode(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o750)
    folder.chmod(0o750)
    upgrade(f"sqlite:///{folder / 'fiml.db'}")
    assert mode(folder) == 0o750 and mode(folder / "fiml.db") == 0o600


def test_the_chat_creates_its_database_private(tmp_path: Path, content_repo: Path) -> None:
    from typer.testing import CliRunner

    from fiml_bot.cli import app

    database = tmp_path / "data" / "fiml.db"
    result = CliRunner().invoke(
        app,
        ["chat", "--database", f"sqlite:///{database}", "--content", str(content_repo), "--preview"],
        input="/help\n",
    )
    assert result.exit_code == 0, result.output
    assert mode(database.parent) == 0o700 and mode(database) == 0o600
