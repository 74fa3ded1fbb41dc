"""SQLite statements of `db restore`'s switch: attach the staged copy to the live connection, and
replace the live tables' rows with the staged ones.

ATTACH/DETACH run outside any transaction on the DB-API connection; the row replacement runs inside
the switch's `BEGIN IMMEDIATE` transaction, with foreign keys checked at its commit. The tables and
columns are read from each file's own catalogue (the staged copy was upgraded to the live revision),
so these are SQL text, SQLite's dialect.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, text


def attach(connection: Connection, path: Path, name: str) -> None:
    """ATTACH `path` as schema `name` (outside any transaction: call before `begin()`)."""
    raw = connection.connection.dbapi_connection
    assert raw is not None
    raw.execute("ATTACH DATABASE ? AS " + name, (str(path),))


def detach(connection: Connection, name: str) -> None:
    raw = connection.connection.dbapi_connection
    assert raw is not None
    raw.execute("DETACH DATABASE " + name)


def _tables(connection: Connection, schema: str) -> list[str]:
    return [
        str(name)
        for (name,) in connection.execute(
            text(f"SELECT name FROM {schema}.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        )
    ]


def _columns(connection: Connection, schema: str, table: str) -> list[str]:
    return [str(row[1]) for row in connection.execute(text(f'PRAGMA {schema}.table_info("{table}")'))]


def replace_rows(connection: Connection, staged: str) -> None:
    """The live tables' rows become the attached `staged` tables' rows (same schema revision by now);
    foreign keys are checked at the commit, when every table is whole again."""
    connection.execute(text("PRAGMA defer_foreign_keys = ON"))
    live = set(_tables(connection, "main"))
    for table in _tables(connection, staged):
        if table not in live:
            continue
        theirs = set(_columns(connection, staged, table))
        shared = ", ".join(f'"{c}"' for c in _columns(connection, "main", table) if c in theirs)
        connection.execute(text(f'DELETE FROM main."{table}"'))
        connection.execute(
            text(f'INSERT INTO main."{table}" ({shared}) SELECT {shared} FROM {staged}."{table}"')
        )
