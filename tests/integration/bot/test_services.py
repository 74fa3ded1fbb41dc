"""The operations' services (fiml_bot/services/) return result values the CLI only renders.

`db upgrade` and a release's `--migrate` share `services.schema.upgrade`: snapshot first (told to the
caller before the migration runs), then the migration, then the doctor when asked.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fiml_bot.bot_settings import BotSettings
from fiml_bot.ops.snapshots import Manifest
from fiml_bot.services import releases, schema
from fiml_bot.storage import migrations_api
from fiml_cms.errors import Refused, UsageError


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> BotSettings:
    monkeypatch.setenv("FIML_SNAPSHOT_DIR", str(tmp_path / "snapshots"))
    return BotSettings(content=tmp_path / "no-content", database_url=f"sqlite:///{tmp_path / 'fiml.db'}")


def test_upgrade_snapshots_before_migrating_then_runs_the_doctor(settings: BotSettings) -> None:
    url = settings.database_url
    migrations_api.upgrade(url, "0001")
    seen: list[tuple[Manifest, str | None]] = []

    done = schema.upgrade(settings, on_snapshot=lambda m: seen.append((m, migrations_api.current(url))))

    assert (done.before, done.after) == ("0001", migrations_api.head())
    assert done.snapshot is not None and done.snapshot.path.is_file()
    assert done.snapshot.schema_revision == "0001" and done.snapshot.label == "pre-upgrade"
    assert seen == [(done.snapshot, "0001")]  # told while the database was still at 0001
    assert done.doctor is not None and done.doctor.exit_code == 0
    assert done.doctor.skipped and "no-content" in done.doctor.skipped[0]  # no content: its checks skipped


def test_upgrade_of_an_empty_database_takes_no_snapshot(settings: BotSettings, tmp_path: Path) -> None:
    done = schema.upgrade(settings, doctor=False)

    assert (done.before, done.after, done.snapshot, done.doctor) == (None, migrations_api.head(), None, None)
    assert not (tmp_path / "snapshots").exists()


def test_an_older_revision_is_refused_before_any_snapshot(settings: BotSettings, tmp_path: Path) -> None:
    migrations_api.upgrade(settings.database_url, "0002")

    with pytest.raises(Refused, match="fiml-bot db downgrade 0001"):
        schema.upgrade(settings, "0001")

    assert migrations_api.current(settings.database_url) == "0002"
    assert not (tmp_path / "snapshots").exists()


def test_downgrade_returns_where_it_went_and_refuses_an_empty_database(settings: BotSettings) -> None:
    with pytest.raises(Refused, match="no schema"):
        schema.downgrade(settings, "-1")
    migrations_api.upgrade(settings.database_url, "0002")

    done = schema.downgrade(settings, "-1", snapshot=False)

    assert (done.before, done.after, done.snapshot) == ("0002", "0001", None)
    assert schema.schema_status(settings).current == "0001"


def test_a_release_migrates_through_the_same_upgrade(settings: BotSettings) -> None:
    migrations_api.upgrade(settings.database_url, "0001")

    before, snapshot = releases.migrate_with_snapshot(settings)

    assert before == "0001" and snapshot is not None and Path(snapshot).is_file()
    assert Path(snapshot).name.endswith("pre-release.sqlite")
    assert releases.migrate_with_snapshot(settings) == (migrations_api.head(), None)
