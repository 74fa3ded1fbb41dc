"""Schema migrations through Alembic's command API, configured in code (no alembic.ini at runtime).

`fiml-bot db upgrade|downgrade|current` call these; `open_storage` uses `check_schema` to refuse a
database whose schema is outside this code's compatibility window (`window.py`).
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from fiml_bot.tutor.ports import StorageUnavailable

from .database import (
    describe,
    ensure_sqlite_folder,
    make_engine,
    sqlite_path,
    storage_errors,
)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    """A Config pointing at the packaged migrations; `url` is read by env.py (never interpolated)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    if url is not None:
        config.attributes["url"] = url
    return config


@functools.cache
def head() -> str:
    """The newest revision this code ships."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None, "the migrations folder has no revision"
    return revision


@functools.cache
def known_revisions() -> frozenset[str]:
    """Every revision this code ships."""
    return frozenset(
        script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    )


@functools.cache
def chain() -> tuple[str, ...]:
    """The revisions from the oldest to the newest (the migrations are one line, no branches)."""
    scripts = ScriptDirectory.from_config(alembic_config()).walk_revisions()
    return tuple(reversed([script.revision for script in scripts]))


_RELATIVE = re.compile(r"(?P<anchor>.*?)(?P<step>[+-]\d+)")


def resolve(revision: str, current: str | None) -> str | None:
    """The revision `revision` names, checked before anything is done: head, base (None), an id (or
    a unique prefix of one), or a step relative to the database's `current` revision (+1, -1) or to
    an id (0002+1). UsageError names what is known, so a typo never costs a snapshot."""
    from fiml_cms.errors import UsageError

    known = chain()
    forms = f"known revisions: {', '.join(known)}; also head, base, +N, -N"
    text = revision.strip()
    if text in ("head", "heads"):
        return known[-1]
    if text == "base":
        return None
    match = _RELATIVE.fullmatch(text)
    anchor_text = match["anchor"] if match else text
    if match and anchor_text == "":
        anchor: str | None = current
    elif anchor_text in ("head", "heads"):
        anchor = known[-1]
    elif anchor_text == "base":
        anchor = None
    else:
        found = [r for r in known if r.startswith(anchor_text)] if anchor_text else []
        if len(found) != 1:
            why = "matches several" if found else "is not a revision of this code"
            raise UsageError(f"revision {revision!r} {why} ({forms})")
        anchor = found[0]
    if match is None:
        return anchor
    if anchor is not None and anchor not in known:
        raise UsageError(
            f"the database is at {anchor}, which this code does not know: {revision!r} cannot be counted from it"
        )
    index = (known.index(anchor) if anchor is not None else -1) + int(match["step"])
    if not -1 <= index < len(known):
        start = anchor or "base"
        raise UsageError(
            f"revision {revision!r}: there are not {abs(int(match['step']))} revision(s) {'after' if int(match['step']) > 0 else 'before'} {start} ({forms})"
        )
    return known[index] if index >= 0 else None


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database up to `revision`, creating the SQLite file (and its folder) if missing."""
    ensure_sqlite_folder(url)
    _run(url, lambda config: command.upgrade(config, revision))


def downgrade(url: str, revision: str) -> None:
    """Migrate the database down to `revision` ("base" removes every table)."""
    path = sqlite_path(url)
    if path is not None and not path.exists():
        raise StorageUnavailable(f"the database file {path} does not exist: there is nothing to downgrade")
    _run(url, lambda config: command.downgrade(config, revision))


def current(url: str) -> str | None:
    """The database's revision; None for an empty database or a SQLite file that does not exist."""
    path = sqlite_path(url)
    if path is not None and not path.exists():
        return None  # connecting would create an empty file
    engine = make_engine(url)
    try:
        with storage_errors(describe(url)), engine.connect() as connection:
            return revision_of(connection)
    finally:
        engine.dispose()


def revision_of(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def check_schema(connection: Connection, where: str) -> str:
    """The database's revision; SchemaOutOfDate unless it is inside this code's window (`window.py`)."""
    from . import window

    found = revision_of(connection)
    window.check(connection, found, where)
    assert found is not None
    return found


def _run(url: str, operation: Callable[[Config], None]) -> None:
    config = alembic_config(url)
    engine = make_engine(url)
    try:
        with storage_errors(describe(url)), engine.begin() as connection:
            config.attributes["connection"] = connection
            with revision_errors():
                operation(config)
    finally:
        engine.dispose()


@contextlib.contextmanager
def revision_errors() -> Iterator[None]:
    """Alembic's "no such revision" (a typo in `db upgrade REV`) as a usage error naming the known ones."""
    from alembic.util import CommandError

    from fiml_cms.errors import UsageError

    try:
        yield
    except CommandError as error:
        known = ", ".join(sorted(known_revisions()))
        raise UsageError(f"{error} (known revisions: {known}; also head, base, +N, -N)") from None
