"""The schema compatibility window (expand/contract): which code may run on which schema revision.

Blue-green releases run old and new code on one database. Alembic only knows "the database is at
revision R"; this module adds two declarations per migration module, read here and nowhere else:

- `oldest_code_revision`: the oldest *code* (named by the head revision it shipped with) that can
  still run on the schema this migration leaves. An expand-only migration (new nullable or defaulted
  columns, new tables, new indexes) leaves it unchanged, which is also the default when a migration
  does not declare it. A contract migration (dropping or renaming what older code reads) must declare
  the first code revision that stopped using it.
- `required_by_code`: whether the code shipped with this migration needs it to run. Default True (a
  missing declaration keeps the safe behaviour: the code refuses an older schema). False when the
  code checks for the addition and works without it.

From these, the code accepts every revision from `min_schema()` (the newest migration it requires) to
its head, and a database records in `schema_window` the oldest code allowed on it, so *older* code
can accept a newer revision it has never seen when every migration since its own head was expand-only.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from dataclasses import dataclass
from types import ModuleType

from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from .database import UPGRADE_HINT
from .errors import SchemaOutOfDate

log = logging.getLogger(__name__)

WINDOW_TABLE = "schema_window"


@dataclass(frozen=True)
class Step:
    """One migration, with its window declarations resolved."""

    revision: str
    oldest_code: str
    required_by_code: bool


@functools.cache
def chain() -> tuple[Step, ...]:
    """The shipped migrations from the first to head, each with its declarations (defaults applied)."""
    from .migrations_api import alembic_config

    scripts = list(ScriptDirectory.from_config(alembic_config()).walk_revisions())
    scripts.reverse()  # walk_revisions goes from head down
    return steps_of([(script.revision, script.module) for script in scripts])


def steps_of(modules: list[tuple[str, ModuleType | object]]) -> tuple[Step, ...]:
    """Resolve each migration's declarations, oldest first: an undeclared `oldest_code_revision`
    inherits the previous one (expand-only), an undeclared `required_by_code` is True."""
    steps: list[Step] = []
    for revision, module in modules:
        inherited = steps[-1].oldest_code if steps else revision
        oldest = getattr(module, "oldest_code_revision", inherited)
        steps.append(Step(revision, oldest, bool(getattr(module, "required_by_code", True))))
    return tuple(steps)


def _order() -> dict[str, int]:
    return {step.revision: index for index, step in enumerate(chain())}


def head() -> str:
    return chain()[-1].revision


def min_schema() -> str:
    """The oldest schema revision this code runs on: the newest migration it requires."""
    return [step.revision for step in chain() if step.required_by_code][-1]


def oldest_code(revision: str) -> str:
    """The oldest code revision that may run on a database at `revision` (a revision this code ships)."""
    return chain()[_order()[revision]].oldest_code


def includes(revision: str | None, wanted: str) -> bool:
    """Whether a database at `revision` has the migration `wanted` applied (an unknown, newer revision has)."""
    order = _order()
    if revision is None:
        return False
    if revision not in order:
        return True
    return order[revision] >= order[wanted]


@dataclass(frozen=True)
class Window:
    """What this code accepts, and what a database at some revision allows."""

    min_schema: str
    head: str

    def describe(self) -> str:
        return self.head if self.min_schema == self.head else f"{self.min_schema}..{self.head}"


def code_window() -> Window:
    return Window(min_schema(), head())


def recorded_oldest_code(connection: Connection) -> tuple[str, str] | None:
    """(revision, oldest code) as recorded in the database, or None when it keeps no record."""
    if not inspect(connection).has_table(WINDOW_TABLE):
        return None
    row = connection.execute(text(f"SELECT revision, oldest_code FROM {WINDOW_TABLE}")).first()
    return None if row is None else (row[0], row[1])


def record(connection: Connection, revision: str | None) -> None:
    """Write the window of `revision` into the database (after every migration run, in its transaction)."""
    if revision is None or revision not in _order() or not inspect(connection).has_table(WINDOW_TABLE):
        return
    connection.execute(text(f"DELETE FROM {WINDOW_TABLE}"))
    connection.execute(
        text(f"INSERT INTO {WINDOW_TABLE} (id, revision, oldest_code, updated_at) VALUES (1, :r, :o, :t)"),
        {"r": revision, "o": oldest_code(revision), "t": dt.datetime.now(dt.UTC).replace(tzinfo=None)},
    )


def check(connection: Connection, found: str | None, where: str) -> None:
    """Raise SchemaOutOfDate unless this code may run on a database at revision `found`."""
    window = code_window()
    order = _order()
    if found is None:
        raise SchemaOutOfDate(f"the database at {where} has no progress tables yet: {UPGRADE_HINT}")
    if found in order:
        if order[found] < order[window.min_schema]:
            raise SchemaOutOfDate(
                f"the database at {where} is at schema revision {found}, this fiml-bot needs "
                f"{window.describe()}: {UPGRADE_HINT}"
            )
        return
    recorded = recorded_oldest_code(connection)
    if recorded is not None and recorded[0] == found and recorded[1] in order:
        log.info(
            "the database at %s is at revision %s, newer than this code (%s); its window admits code from %s",
            where,
            found,
            window.head,
            recorded[1],
        )
        return
    needs = (
        f" (it admits code from revision {recorded[1]} on)"
        if recorded is not None and recorded[0] == found
        else ""
    )
    raise SchemaOutOfDate(
        f"the database at {where} is at schema revision {found}, which this fiml-bot does not know "
        f"(it runs on {window.describe()}){needs}: the database was migrated by a newer fiml-bot; run that "
        f"version, or downgrade the database with it first"
    )


def status_line(revision: str | None) -> str:
    """For health endpoints: the database's revision (as found at start) and this code's window."""
    return f"schema: {revision or 'unknown'}; this code runs on {code_window().describe()}"
