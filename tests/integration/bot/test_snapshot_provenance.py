"""Snapshots belong to one database: manifests record its identity, restore refuses a stranger's
snapshot (unless --from-other-database) and a file that is not what its manifest says; hostile or
broken manifests are listed as unreadable and skipped, never followed outside their folder; --keep
prunes per source database, with --dry-run; killed snapshots' temp files go with the next snapshot."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fiml_bot.cli import app
from fiml_bot.ops import identity, snapshots
from fiml_bot.storage import migrations_api
from fiml_bot.storage.database import make_engine
from testing.ledger import earn, tally

BOTH = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
pytestmark = pytest.mark.usefixtures("pg_tools")
runner = CliRunner()


def invoke(*args: str) -> object:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def database_id(url: str) -> str | None:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return identity.identity_of(connection)
    finally:
        engine.dispose()


def rewrite(manifest: snapshots.Manifest, **changes: object) -> None:
    data = json.loads(manifest.manifest_path.read_text())
    data.update(changes)
    manifest.manifest_path.write_text(json.dumps(data))


@BOTH
def test_a_snapshot_of_another_database_is_refused_unless_asked(
    database_url: str, tmp_path: Path, sqlite_url: str
) -> None:
    migrations_api.upgrade(database_url)
    earn(database_url, "telegram:1", "lesson:a", 50, complete="a")
    ours = database_id(database_url)
    assert ours is not None and snapshots.take(database_url, folder=tmp_path / "own").database_id == ours
    other = database_url.replace("fiml.db", "other.db") if database_url == sqlite_url else None
    if other is None:  # PostgreSQL: a second schema is a second database
        from testing.postgres import postgres_schema

        with postgres_schema(os.environ["FIML_TEST_POSTGRES_URL"]) as second:
            stranger = make_stranger(second, tmp_path)
            check_refused(database_url, stranger, ours)
        return
    check_refused(database_url, make_stranger(other, tmp_path), ours)


def make_stranger(url: str, tmp_path: Path) -> snapshots.Manifest:
    migrations_api.upgrade(url)
    earn(url, "telegram:999", "lesson:a", 70, complete="a")
    return snapshots.take(url, folder=tmp_path / "snaps")


def check_refused(url: str, stranger: snapshots.Manifest, ours: str | None) -> None:
    before = tally(url)
    refused = invoke("db", "restore", str(stranger.path), "--database", url, "--out", str(stranger.folder))
    assert refused.exit_code == 1 and "another database" in refused.output, refused.output  # a refusal
    assert "--from-other-database" in refused.output and tally(url) == before
    merged = invoke(
        "db",
        "restore",
        str(stranger.path),
        "--from-other-database",
        "--database",
        url,
        "--out",
        str(stranger.folder),
    )
    assert merged.exit_code == 0, merged.output
    assert set(tally(url)) == {"telegram:1", "telegram:999"}
    assert database_id(url) == ours  # the restore keeps the database's identity


@BOTH
def test_a_file_that_is_not_what_its_manifest_says_is_refused(
    database_url: str, tmp_path: Path, sqlite_url: str
) -> None:
    migrations_api.upgrade(database_url, "0005")
    earn(database_url, "telegram:1", "lesson:a", 50, complete="a")
    old = snapshots.take(database_url, folder=tmp_path / "snaps")
    migrations_api.upgrade(database_url)
    earn(database_url, "telegram:2", "lesson:a", 60, complete="a")
    newer = snapshots.take(database_url, folder=tmp_path / "snaps")
    before = tally(database_url)
    # the head file behind the 0005 manifest, its sha256 "fixed": the manifest lies about revision and rows
    old.path.write_bytes(newer.path.read_bytes())
    rewrite(old, sha256=snapshots.sha256_of(old.path))
    lying = invoke(
        "db", "restore", str(old.path), "--database", database_url, "--out", str(tmp_path / "snaps")
    )
    assert lying.exit_code == 2, lying.output
    assert "does not hold what" in lying.output and "schema revision" in lying.output
    assert "nothing was restored" in lying.output and tally(database_url) == before
    if database_url == sqlite_url:  # a foreign SQLite file with a matching sha256
        foreign = tmp_path / "foreign.db"
        other = f"sqlite:///{foreign}"
        migrations_api.upgrade(other)
        earn(other, "telegram:666", "lesson:a", 10, complete="a")
        snapshots.copy_sqlite(foreign, newer.path)
        rewrite(newer, sha256=snapshots.sha256_of(newer.path))
        result = invoke(
            "db", "restore", str(newer.path), "--database", database_url, "--out", str(tmp_path / "snaps")
        )
        assert result.exit_code == 2 and "database identity" in result.output, result.output
        assert tally(database_url) == before


HOSTILE = {
    "outside": {"file": "../../victim.txt"},
    "number": {"file": 5},
    "null": {"file": None},
    "revision list": {"schema_revision": ["0005"]},
    "counts": {"row_counts": {"learners": "many"}},
}


def test_hostile_manifests_are_listed_as_unreadable_and_never_followed(
    sqlite_url: str, tmp_path: Path
) -> None:
    migrations_api.upgrade(sqlite_url)
    earn(sqlite_url, "telegram:1", "lesson:a", 50, complete="a")
    folder = tmp_path / "shared" / "snaps"
    good = snapshots.take(sqlite_url, folder=folder)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    base = json.loads(good.manifest_path.read_text())
    for n, change in enumerate(HOSTILE.values()):
        (folder / f"hostile-{n}.json").write_text(json.dumps({**base, **change}))
    (folder / "deep.json").write_text("[" * 100_000 + "]" * 100_000)

    listed = invoke("db", "snapshots", "--out", str(folder), "--keep", "0")
    assert listed.exit_code == 0, listed.output
    assert victim.read_text() == "keep me"
    unreadable = [line for line in listed.output.splitlines() if line.startswith("unreadable manifest ")]
    assert len(unreadable) == len(HOSTILE) + 1
    assert "field 'file' must name a file in the manifest's own folder" in listed.output
    assert "field 'schema_revision' must be a string or null" in listed.output
    for n in range(len(HOSTILE)):
        restored = invoke("db", "restore", str(folder / f"hostile-{n}.json"), "--database", sqlite_url)
        assert restored.exit_code == 2 and "field '" in restored.output, restored.output
    deep = invoke("db", "restore", str(folder / "deep.json"), "--database", sqlite_url)
    assert deep.exit_code == 2 and "nested too deeply" in deep.output, deep.output


def test_keep_prunes_per_source_database_with_a_dry_run(tmp_path: Path) -> None:
    folder = tmp_path / "snaps"
    made: dict[str, list[snapshots.Manifest]] = {}
    for name in ("a", "b"):
        url = f"sqlite:///{tmp_path / name / 'fiml.db'}"
        migrations_api.upgrade(url)
        earn(url, "telegram:1", "lesson:a", 50, complete="a")
        made[name] = [snapshots.take(url, folder=folder) for _ in range(3 if name == "a" else 1)]

    listed = invoke("db", "snapshots", "--out", str(folder))
    assert f"source {made['a'][0].database_id[:12]}" in listed.output  # type: ignore[index]
    assert f"source {made['b'][0].database_id[:12]}" in listed.output  # type: ignore[index]
    dry = invoke("db", "snapshots", "--out", str(folder), "--keep", "1", "--dry-run")
    assert dry.exit_code == 0 and dry.output.count("would delete") == 2
    assert len(snapshots.listing(folder)) == 4
    pruned = invoke("db", "snapshots", "--out", str(folder), "--keep", "1")
    assert pruned.output.count("deleted") == 2
    assert {m.file for m in snapshots.listing(folder)} == {made["a"][2].file, made["b"][0].file}


def test_the_next_snapshot_removes_what_a_killed_one_left(sqlite_url: str, tmp_path: Path) -> None:
    migrations_api.upgrade(sqlite_url)
    folder = tmp_path / "snaps"
    snapshots.private_folder(folder)
    dead = folder / ".snapshot.abc123.sqlite"
    dead.write_bytes(b"personal data")
    Path(f"{dead}-journal").write_bytes(b"more")
    busy = folder / ".snapshot.busy99.dump"
    busy.write_bytes(b"a running snapshot's")
    with busy.open("rb") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # its process is alive
        made = invoke("db", "snapshot", "--database", sqlite_url, "--out", str(folder))
        assert made.exit_code == 0, made.output
    assert not dead.exists() and not Path(f"{dead}-journal").exists()
    assert busy.exists()


@BOTH
def test_a_killed_snapshot_leaves_nothing_after_the_next(database_url: str, tmp_path: Path) -> None:
    from testing.restore_kill import fiml_bot

    migrations_api.upgrade(database_url)
    earn(database_url, "telegram:1", "lesson:a", 50, complete="a")
    folder = tmp_path / "snaps"
    args = ("db", "snapshot", "--database", database_url, "--out", str(folder))
    killed = fiml_bot(*args, cwd=tmp_path, env={"FIML_KILL_AT": "snapshot:copied:group"})
    assert killed.returncode == -9, killed.stderr
    left = sorted(p.name for p in folder.glob(".snapshot.*"))
    assert left and snapshots.listing(folder) == []  # a copy of every learner, and no manifest
    again = fiml_bot(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert list(folder.glob(".snapshot.*")) == [] and len(snapshots.listing(folder)) == 1
