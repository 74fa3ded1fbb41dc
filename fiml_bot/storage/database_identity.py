"""The row of `database_identity` (migration 0006): one random id per database, read and kept.

The id is asked of the live database, of a staged restore (an attached SQLite file or a PostgreSQL
schema beside the live one) and of a snapshot being checked, so every function takes the schema.
"""

from __future__ import annotations

from sqlalchemy import Connection, TableClause, column, inspect, select, table, update

TABLE = "database_identity"


def _table(schema: str | None) -> TableClause:
    return table(TABLE, column("id"), schema=schema)


def identity_of(connection: Connection, schema: str | None = None) -> str | None:
    """The id of the database (or of an attached/side `schema`); None before revision 0006."""
    if not inspect(connection).has_table(TABLE, schema=schema):
        return None
    identity = _table(schema)
    row = connection.execute(select(identity.c.id)).first()
    return None if row is None else str(row[0])


def keep_identity(connection: Connection, schema: str, identity: str | None) -> None:
    """Give the tables in `schema` (a restored copy) the live database's id, when both have the table."""
    if identity is None or not inspect(connection).has_table(TABLE, schema=schema):
        return
    connection.execute(update(_table(schema)).values(id=identity))
