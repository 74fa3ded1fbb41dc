"""A restore killed at every step (kill -9, a process-group kill, its PostgreSQL connection
terminated) and at random instants loses nothing: after each kill the next `fiml-bot` command clears
the scratch, no learner has less XP, fewer completions or fewer badges than before, the doctor is
clean, and no staged file, side schema, temporary database or temp folder is left."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from fiml_bot.ops import doctor, snapshots
from fiml_bot.storage import migrations_api
from testing.ledger import earn, losses, tally
from testing.restore_kill import fiml_bot, postgres_scratch, sqlite_scratch, temp_folders

pytestmark = pytest.mark.usefixtures("pg_tools")

SQLITE_POINTS = [
    "sqlite:start",
    "sqlite:journal",
    "sqlite:staged",
    "sqlite:checked",
    "sqlite:safety",
    "sqlite:upgraded",
    "sqlite:locked",
    "sqlite:merged",
    "sqlite:switched",
    "sqlite:committed",
    "sqlite:cleaned",
]
POSTGRES_POINTS = [
    "pg:marked",
    "pg:tempdb",
    "pg:restored-aside",
    "pg:checked",
    "pg:safety",
    "pg:upgraded",
    "pg:dumped",
    "pg:staged",
    "pg:locked",
    "pg:merged",
    "pg:switched",
    "pg:committed",
    "pg:cleaned",
]
# Inside the restore's safety snapshot, its temp file (personal data) written, not yet renamed.
IN_SAFETY_SNAPSHOT = "snapshot:copied"
# (point, how): a plain kill -9 at every point, and the other two ways where they differ
SQLITE_KILLS = [(p, "") for p in [*SQLITE_POINTS, IN_SAFETY_SNAPSHOT]] + [
    ("sqlite:merged", "group"),
    ("sqlite:switched", "group"),
]
POSTGRES_KILLS = (
    [(p, "") for p in [*POSTGRES_POINTS, IN_SAFETY_SNAPSHOT]]
    + [(p, "group") for p in ("pg:restored-aside", "pg:merged", "pg:switched")]
    + [(p, "connection") for p in ("pg:marked", "pg:locked", "pg:merged", "pg:switched")]
)
RANDOM_KILLS = 1  # per shard


def prepare(url: str, tmp_path: Path) -> Path:
    """A database with 12 learners, a snapshot of it at the previous revision (so the restore
    upgrades the staged copy), and more earned since; returns the snapshot."""
    chain = migrations_api.known_revisions()
    previous = sorted(chain)[-2]
    migrations_api.upgrade(url, previous)
    for n in range(12):
        earn(url, f"telegram:{n}", "lesson:a", 10 + n, complete="a")
    manifest = snapshots.take(url, folder=tmp_path / "snaps")
    migrations_api.upgrade(url)
    for n in range(6, 18):  # some learners earn more, some are new since the snapshot
        earn(url, f"telegram:{n}", "lesson:b", 30 + n, complete="b")
    return manifest.path


def scratch(url: str, tmp_path: Path, folders_before: set[str]) -> list[str]:
    from fiml_bot.storage.database import sqlite_path

    database = sqlite_path(url)
    if database is not None:  # a SQLite restore makes no temp folder
        return sqlite_scratch(database, tmp_path / "snaps")
    safety_temps = [p.name for p in (tmp_path / "snaps").glob(".snapshot.*")]
    return sorted(postgres_scratch(url, folders_before) + safety_temps)


def kill_and_check(
    url: str, tmp_path: Path, snapshot: Path, env: dict[str, str], run: int, **kill: float
) -> str:
    folders_before = temp_folders()
    earn(url, "telegram:3", f"lesson:run{run}", 5, complete=f"run{run}")  # later data, every run
    before = tally(url)
    database = ["--database", url]
    killed = fiml_bot("db", "restore", str(snapshot), *database, cwd=tmp_path, env=env, **kill)
    if env.get("FIML_KILL_AT", "").endswith(":connection"):
        assert killed.returncode == 2 and "unavailable" in killed.stderr, killed.stderr
    elif "FIML_KILL_AT" in env:
        assert killed.returncode == -9, (env, killed.returncode, killed.stderr)
    nextcommand = fiml_bot("db", "current", *database, cwd=tmp_path)
    assert nextcommand.returncode == 0, nextcommand.stderr
    after = tally(url)
    where = f"{env or kill}: restore rc={killed.returncode} {killed.stderr[-400:]}"
    assert losses(before, after) == [], where
    assert doctor.run(url, None).problems == [], where
    assert scratch(url, tmp_path, folders_before) == [], where
    assert migrations_api.current(url) == migrations_api.head(), where
    return nextcommand.stderr


def kill_everywhere(url: str, tmp_path: Path, kills: list[tuple[str, str]], seed: int) -> None:
    snapshot = prepare(url, tmp_path)
    env = {"FIML_SNAPSHOT_DIR": str(tmp_path / "snaps")}
    reported = []
    for run, (where, how) in enumerate(kills):
        spec = f"{where}:{how}" if how else where
        reported.append(kill_and_check(url, tmp_path, snapshot, {**env, "FIML_KILL_AT": spec}, run))
    assert any("found an interrupted `db restore`" in line for line in reported)
    chance = random.Random(seed)
    for run in range(RANDOM_KILLS):
        delay = chance.uniform(0.3, 2.5)
        kill_and_check(url, tmp_path, snapshot, env, len(kills) + run, kill_after=delay)
    completed = fiml_bot("db", "restore", str(snapshot), "--database", url, cwd=tmp_path, env=env)
    assert completed.returncode == 0 and "merged back" in completed.stdout, completed.stderr


# Every kill point runs in one of these shards (interleaved, so each shard kills early and late
# steps); the shards are separate tests so the suite's workers share the longest test of the suite.
SQLITE_SHARDS, POSTGRES_SHARDS = 2, 4


@pytest.mark.parametrize("shard", range(SQLITE_SHARDS))
def test_a_sqlite_restore_killed_at_every_step_loses_nothing(
    sqlite_url: str, tmp_path: Path, shard: int
) -> None:
    kill_everywhere(sqlite_url, tmp_path, SQLITE_KILLS[shard::SQLITE_SHARDS], seed=21 + shard)


@pytest.mark.parametrize("shard", range(POSTGRES_SHARDS))
def test_a_postgres_restore_killed_at_every_step_loses_nothing(
    postgres_url: str, tmp_path: Path, shard: int
) -> None:
    import shutil

    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed (Debian's postgresql-client)")
    kill_everywhere(postgres_url, tmp_path, POSTGRES_KILLS[shard::POSTGRES_SHARDS], seed=21 + shard)


def test_every_kill_point_is_in_a_shard() -> None:
    assert sorted(k for n in range(SQLITE_SHARDS) for k in SQLITE_KILLS[n::SQLITE_SHARDS]) == sorted(
        SQLITE_KILLS
    )
    assert sorted(k for n in range(POSTGRES_SHARDS) for k in POSTGRES_KILLS[n::POSTGRES_SHARDS]) == sorted(
        POSTGRES_KILLS
    )


def test_a_running_restores_scratch_is_left_alone(sqlite_url: str, tmp_path: Path) -> None:
    """Another command started while a restore runs must not remove its staged copy: the restore's
    lock on its journal says it is alive. Once the lock is gone, the next command clears both."""
    import fcntl
    import json

    from fiml_bot.ops import recovery
    from fiml_bot.storage.database import sqlite_path

    migrations_api.upgrade(sqlite_url)
    database = sqlite_path(sqlite_url)
    assert database is not None
    journal = recovery.sqlite_journal(database)
    journal.write_text(json.dumps({"id": "abc123", "snapshot": "s.sqlite"}))
    staged = database.with_name(f"{database.name}.restore-abc123")
    staged.write_bytes(b"a copy of every learner")
    with journal.open("rb") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # the restore is alive
        assert recovery.recover(sqlite_url) == []
        assert staged.exists() and journal.exists()
    messages = recovery.recover(sqlite_url)
    assert len(messages) == 1 and "had not switched anything" in messages[0]
    assert not staged.exists() and not journal.exists()
