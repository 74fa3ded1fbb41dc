"""A database's identity: the random id migration 0006 stores once, so snapshots know where they came from.

A snapshot's manifest records the id; `db restore` compares it with the database's own, refusing a
stranger's snapshot unless the operator says otherwise, and a restore keeps the database's id.
"""

from __future__ import annotations

from sqlalchemy import Connection, inspect, text

TABLE = "database_identity"


def _name(schema: str | None) -> str:
    return f'"{schema}"."{TABLE}"' if schema else f'"{TABLE}"'


def identity_of(connection: Connection, schema: str | None = None) -> str | None:
    """The id of the database (or of an attached/side `schema`); None before revision 0006."""
    if not inspect(connection).has_table(TABLE, schema=schema):
        return None
    row = connection.execute(text(f"SELECT id FROM {_name(schema)}")).first()
    return None if row is None else str(row[0])


def keep_identity(connection: Connection, schema: str, identity: str | None) -> None:
    """Give the tables in `schema` (a restored copy) the live database's id, when both have the table."""
    if identity is None or not inspect(connection).has_table(TABLE, schema=schema):
        return
    connection.execute(text(f"UPDATE {_name(schema)} SET id = :id"), {"id": identity})


def short(identity: str | None) -> str:
    """For listings: the first 12 hex digits (unique enough among one folder's sources)."""
    return identity[:12] if identity else "-"
