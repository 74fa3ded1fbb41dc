"""Snapshots and restore on SQLite and PostgreSQL: manifests, private files, restore that keeps later
XP and completions (and the hypothesis property), quarantine, listing and pruning, client checks."""

from __future__ import annotations

import datetime as dt
import json
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from typer.testing import CliRunner

from fiml_bot.cli import app
from fiml_bot.ops import pgtools, restore, snapshots
from fiml_bot.ops.errors import OpsError
from fiml_bot.storage import migrations_api
from fiml_bot.storage.database import make_engine
from fiml_bot.storage.unit_of_work import open_storage
from fiml_bot.tutor.model import BadgeAward, Completion, Learner, LessonProgress, XpAward

BOTH = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
pytestmark = pytest.mark.usefixtures("pg_tools")
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def learner(url: str, who: str) -> None:
    with open_storage(url) as storage, storage() as uow:
        if uow.progress.learner(who) is None:
            uow.progress.save_learner(Learner(id=who, name=who))
            uow.commit()


def earn(url: str, who: str, key: str, amount: int, complete: str | None = None) -> None:
    learner(url, who)
    with open_storage(url) as storage, storage() as uow:
        uow.progress.award_xp(XpAward(who, amount, "lesson completed", key, complete, "1.0.0", T0))
        if complete is not None:
            uow.progress.add_completion(
                Completion(who, complete, "1.0.0", 1, 3, 3, amount, T0 + dt.timedelta(seconds=len(key)))
            )
            uow.progress.award_badge(BadgeAward(who, "first_steps", T0))
        uow.commit()


def state(url: str) -> dict[str, tuple[int, int]]:
    """learner -> (XP, completions)."""
    with open_storage(url) as storage, storage() as uow:
        return {
            who: (uow.progress.xp_total(who), len(uow.progress.completions(who)))
            for who in uow.progress.learner_ids()
        }


def execute(url: str, sql: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(sql))
    finally:
        engine.dispose()


@BOTH
def test_a_snapshot_has_a_manifest_and_private_files(database_url: str, tmp_path: Path) -> None:
    migrations_api.upgrade(database_url)
    earn(database_url, "telegram:1", "lesson:a", 50, complete="a")
    folder = tmp_path / "snaps"
    manifest = snapshots.take(database_url, folder=folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(manifest.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(manifest.manifest_path.stat().st_mode) == 0o600
    data = json.loads(manifest.manifest_path.read_text())
    assert data["schema_revision"] == migrations_api.head()
    assert data["row_counts"]["learners"] == 1 and data["row_counts"]["completions"] == 1
    assert data["xp_ledger_sum"] == 50
    assert data["sha256"] == snapshots.sha256_of(manifest.path)
    assert data["created_at"].endswith("+00:00") and data["code_version"]
    assert [m.file for m in snapshots.listing(folder)] == [manifest.file]


@BOTH
def test_restore_keeps_what_was_earned_after_the_snapshot(database_url: str, tmp_path: Path) -> None:
    migrations_api.upgrade(database_url)
    earn(database_url, "telegram:1", "lesson:a", 50, complete="a")
    earn(database_url, "telegram:2", "lesson:a", 50, complete="a")
    manifest = snapshots.take(database_url, folder=tmp_path)
    earn(database_url, "telegram:1", "lesson:b", 70, complete="b")  # after the snapshot
    earn(database_url, "telegram:3", "lesson:a", 50, complete="a")  # a learner who is new since
    execute(database_url, "DELETE FROM badges WHERE learner_id = 'telegram:2'")  # the "accident"
    execute(database_url, "DELETE FROM completions WHERE learner_id = 'telegram:2'")
    execute(database_url, "DELETE FROM xp_ledger WHERE learner_id = 'telegram:2'")
    before = state(database_url)

    report = restore.restore(database_url, manifest.path, folder=tmp_path)

    after = state(database_url)
    assert after == {"telegram:1": (120, 2), "telegram:2": (50, 1), "telegram:3": (50, 1)}
    assert all(after[who] >= before[who] for who in before)
    assert report.merged["xp_ledger"] == 2 and report.merged_xp == 120 and report.merged["learners"] == 1
    assert report.safety is not None and report.safety.label == "pre-restore"
    assert "merged back" in report.summary()


@BOTH
def test_quarantine_writes_the_later_data_instead_of_merging(database_url: str, tmp_path: Path) -> None:
    migrations_api.upgrade(database_url)
    earn(database_url, "telegram:1", "lesson:a", 50, complete="a")
    manifest = snapshots.take(database_url, folder=tmp_path / "snaps")
    earn(database_url, "telegram:1", "lesson:evil", 999_999)  # the corruption to roll back
    quarantine = tmp_path / "later.json"

    report = restore.restore(database_url, manifest.path, folder=tmp_path / "snaps", quarantine=quarantine)

    assert state(database_url) == {"telegram:1": (50, 1)}
    document = json.loads(quarantine.read_text())
    assert [row["key"] for row in document["tables"]["xp_ledger"]] == ["lesson:evil"]
    assert document["xp"] == 999_999 and stat.S_IMODE(quarantine.stat().st_mode) == 0o600
    assert report.quarantined == quarantine and "NOT merged" in report.summary()


@BOTH
def test_an_older_snapshot_is_upgraded_to_where_the_database_was(database_url: str, tmp_path: Path) -> None:
    migrations_api.upgrade(database_url, "0001")
    earn(database_url, "telegram:1", "lesson:a", 50, complete="a")
    manifest = snapshots.take(database_url, folder=tmp_path)
    migrations_api.upgrade(database_url)
    earn(database_url, "telegram:1", "lesson:b", 30, complete="b")

    report = restore.restore(database_url, manifest.path, folder=tmp_path)

    assert report.upgraded_to == migrations_api.head()
    assert migrations_api.current(database_url) == migrations_api.head()
    assert state(database_url) == {"telegram:1": (80, 2)}


def test_progress_that_moved_forward_comes_back(sqlite_url: str, tmp_path: Path) -> None:
    migrations_api.upgrade(sqlite_url)
    learner(sqlite_url, "telegram:1")
    with open_storage(sqlite_url) as storage, storage() as uow:
        uow.progress.save_progress(LessonProgress("telegram:1", "a", "1.0.0", current_section="one"))
        uow.commit()
    manifest = snapshots.take(sqlite_url, folder=tmp_path)
    with open_storage(sqlite_url) as storage, storage() as uow:
        saved = uow.progress.progress("telegram:1", "a")
        uow.progress.save_progress(
            LessonProgress(
                "telegram:1",
                "a",
                "1.0.0",
                current_section="three",
                sections_done=("one", "two"),
                revision=saved.revision,
            )
        )
        uow.commit()
    restore.restore(sqlite_url, manifest.path, folder=tmp_path)
    with open_storage(sqlite_url) as storage, storage() as uow:
        assert uow.progress.progress("telegram:1", "a").current_section == "three"


def test_a_changed_snapshot_is_refused(sqlite_url: str, tmp_path: Path) -> None:
    migrations_api.upgrade(sqlite_url)
    manifest = snapshots.take(sqlite_url, folder=tmp_path)
    with manifest.path.open("ab") as handle:
        handle.write(b"x")
    with pytest.raises(OpsError, match="sha256 differs from its manifest"):
        restore.restore(sqlite_url, manifest.path, folder=tmp_path)
    with pytest.raises(OpsError, match="no manifest"):
        restore.restore(sqlite_url, tmp_path / "nothing.sqlite", folder=tmp_path)


def test_prune_keeps_the_newest(sqlite_url: str, tmp_path: Path) -> None:
    migrations_api.upgrade(sqlite_url)
    made = [snapshots.take(sqlite_url, folder=tmp_path) for _ in range(3)]
    deleted = snapshots.prune(tmp_path, keep=1)
    assert [m.file for m in deleted] == [m.file for m in made[:2]]
    assert [m.file for m in snapshots.listing(tmp_path)] == [made[2].file]
    assert not made[0].path.exists() and not made[0].manifest_path.exists()


def test_a_missing_or_old_postgres_client_is_named(tmp_path: Path) -> None:
    bindir = str(tmp_path)
    with pytest.raises(OpsError, match=r"pg_dump was not found: install Debian's postgresql-client"):
        pgtools.check_client("pg_dump", 150004, bindir)
    fake = tmp_path / "pg_dump"
    fake.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 13.9'\n")
    fake.chmod(0o755)
    with pytest.raises(
        OpsError,
        match=r"pg_dump is version 13, older than the PostgreSQL server \(15\): install postgresql-client-15",
    ):
        pgtools.check_client("pg_dump", 150004, bindir)
    pgtools.check_client("pg_dump", 130002, bindir)  # same major: fine


def test_the_bin_folder_setting_reaches_pg_dump(postgres_url: str, tmp_path: Path) -> None:
    """FIML_PG_BINDIR is read by the entry point and passed down: a folder without pg_dump is named."""
    empty = tmp_path / "no-tools"
    empty.mkdir()
    migrations_api.upgrade(postgres_url)
    result = CliRunner().invoke(
        app,
        [
            "db",
            "snapshot",
            "--database",
            postgres_url,
            "--content",
            str(tmp_path),
            "--out",
            str(tmp_path / "s"),
        ],
        env={"FIML_PG_BINDIR": str(empty)},
    )
    assert result.exit_code == 2, result.output
    assert "pg_dump was not found" in result.output and "FIML_PG_BINDIR" in result.output


# the property: around a snapshot, any actions; after restore nobody has less XP or fewer completions

LEARNERS = st.sampled_from(["telegram:1", "telegram:2", "telegram:3"])
ACTIONS = st.one_of(
    st.tuples(
        st.just("earn"),
        LEARNERS,
        st.sampled_from(["lesson:a", "lesson:b", "answer:a:q1", "answer:b:q2"]),
        st.integers(0, 200),
    ),
    st.tuples(st.just("complete"), LEARNERS, st.sampled_from(["a", "b", "c"]), st.integers(0, 3)),
    st.tuples(st.just("lose"), LEARNERS, st.sampled_from(["xp_ledger", "completions", "badges"]), st.just(0)),
)


def apply(url: str, action: tuple[str, str, str, int], step: int) -> None:
    kind, who, what, number = action
    learner(url, who)
    with open_storage(url) as storage, storage() as uow:
        if kind == "earn":
            uow.progress.award_xp(XpAward(who, number, "x", what, None, None, T0))
        elif kind == "complete":
            uow.progress.add_completion(
                Completion(who, what, "1.0.0", number, 1, 1, 0, T0 + dt.timedelta(seconds=step))
            )
            uow.progress.award_badge(BadgeAward(who, "first_steps", T0))
        uow.commit()
    if kind == "lose":  # data lost by accident (a bad deploy, a hand edit): what restores are for
        execute(url, f"DELETE FROM {what} WHERE learner_id = '{who}'")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=st.lists(ACTIONS, max_size=6), after=st.lists(ACTIONS, max_size=6))
@example(
    before=[("earn", "telegram:1", "lesson:a", 10)],  # a key lost, then paid again with more
    after=[("lose", "telegram:1", "xp_ledger", 0), ("earn", "telegram:1", "lesson:a", 200)],
)
def test_restore_never_lowers_xp_or_completions(
    tmp_path_factory: pytest.TempPathFactory, before: list, after: list
) -> None:
    folder = tmp_path_factory.mktemp("restore")
    url = f"sqlite:///{folder / 'fiml.db'}"
    migrations_api.upgrade(url)
    for step, action in enumerate(before):
        apply(url, action, step)
    manifest = snapshots.take(url, folder=folder / "snaps")
    at_snapshot = state(url)
    for step, action in enumerate(after, start=len(before)):
        apply(url, action, step)
    ahead = state(url)

    restore.restore(url, manifest.path, folder=folder / "snaps")

    restored = state(url)
    for earlier in (ahead, at_snapshot):  # nothing earned since is lost, and nothing lost since stays lost
        for who, (xp, completions) in earlier.items():
            assert restored[who][0] >= xp and restored[who][1] >= completions
