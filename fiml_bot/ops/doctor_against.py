"""`fiml-bot doctor --against SNAPSHOT`: learners who hold less now than an earlier snapshot of the
same database held.

The doctor's other checks look at the database alone, so a database that lost rows consistently
(an interrupted restore in an older version, a bad manual fix) looks clean. Against a snapshot, every
learner of the snapshot must still exist with at least its XP and completions: XP and completions
never go down in this product.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, create_engine

from fiml_bot.storage import health_queries
from fiml_bot.storage.database import describe, make_engine, parse_url

from . import identity, snapshots
from .doctor import CannotRun, Problem
from .errors import OpsError

CHECK = "against a snapshot"


def totals(connection: Connection) -> dict[str, tuple[int, int]]:
    """Per-learner XP and completion counts, in grouped queries."""
    return health_queries.learner_totals(connection)


def _of_url(url: str) -> tuple[dict[str, tuple[int, int]], str | None]:
    engine = make_engine(url, readers=True)
    try:
        with engine.connect() as connection:
            try:
                return totals(connection), identity.identity_of(connection)
            finally:
                connection.rollback()
    finally:
        engine.dispose()


def _of_snapshot(manifest: snapshots.Manifest, url: str, pg_bindir: str) -> dict[str, tuple[int, int]]:
    if manifest.kind == "sqlite":
        engine = create_engine(f"sqlite:///file:{manifest.path}?mode=ro&uri=true")  # no pragmas: read-only
        try:
            with engine.connect() as connection:
                return totals(connection)
        finally:
            engine.dispose()
    from . import pgtools
    from .rehearse import _throwaway_postgres, _workspace

    with _workspace() as work, _throwaway_postgres(url, manifest.pg_schema or "public") as temp_url:
        engine = make_engine(temp_url)
        try:
            with engine.connect() as connection:
                version = snapshots.server_version(connection)
            pgtools.restore(parse_url(temp_url), manifest.path, version, work, bindir=pg_bindir)
        finally:
            engine.dispose()
        return _of_url(temp_url)[0]


def check(url: str, snapshot: Path, pg_bindir: str = "") -> list[Problem]:
    """The problems of the database at `url` against `snapshot` (CannotRun when they cannot be compared);
    `pg_bindir`: where pg_restore is ("" for PATH)."""
    try:
        manifest = snapshots.read_manifest(snapshot)
        snapshots.verify(manifest)
    except OpsError as error:
        raise CannotRun(f"--against: {error}") from None
    kind = "sqlite" if parse_url(url).get_backend_name() == "sqlite" else "postgresql"
    if manifest.kind != kind:
        raise CannotRun(f"--against: {manifest.path} is a {manifest.kind} snapshot; the database is {kind}")
    now, live_id = _of_url(url)
    if manifest.database_id is not None and live_id is not None and manifest.database_id != live_id:
        raise CannotRun(
            f"--against: {manifest.path} is a snapshot of another database (identity "
            f"{identity.short(manifest.database_id)}, from {manifest.source}); this is {describe(url)}"
        )
    earlier = _of_snapshot(manifest, url, pg_bindir)
    problems = []
    name = manifest.path.name
    for who, (xp, done) in sorted(earlier.items()):
        xp_now, done_now = now.get(who, (0, 0))
        if who not in now:
            message = f"is gone; snapshot {name} held them with {xp} XP and {done} completion(s)"
        elif xp_now < xp or done_now < done:
            message = f"has {xp_now} XP and {done_now} completion(s); snapshot {name} held {xp} XP and {done}"
        else:
            continue
        problems.append(
            Problem(
                CHECK,
                message,
                f"restore the snapshot (`fiml-bot db restore {manifest.path}`): it merges back what was earned since",
                who,
            )
        )
    return problems
