"""How much a database holds: row counts and the XP ledger's sum, for snapshot manifests, the check of
a staged restore and what a downgrade would destroy.

Tables are named, not taken from `models.py`, because these questions are asked of databases at any
revision of the window (a table may be missing, or be one a later migration dropped).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, column, func, inspect, select, table


def row_count(connection: Connection, name: str, schema: str | None = None) -> int:
    return int(connection.execute(select(func.count()).select_from(table(name, schema=schema))).scalar_one())


def value_count(connection: Connection, name: str, column_name: str) -> int:
    """Non-NULL values in one column (what dropping the column would lose)."""
    query = select(func.count(column(column_name))).select_from(table(name, column(column_name)))
    return int(connection.execute(query).scalar_one())


def ledger_sum(connection: Connection, schema: str | None = None) -> int:
    """The XP ledger's total (0 when empty), of the default schema or of an attached/side `schema`."""
    ledger = table("xp_ledger", column("amount"), schema=schema)
    query = select(func.coalesce(func.sum(ledger.c.amount), 0))
    return int(connection.execute(query).scalar_one())


def row_counts(connection: Connection, tables: Iterable[str]) -> tuple[dict[str, int], int]:
    """Row counts of those of `tables` that exist, and the XP ledger's sum (0 without a ledger)."""
    present = set(inspect(connection).get_table_names())
    rows = {name: row_count(connection, name) for name in tables if name in present}
    return rows, ledger_sum(connection) if "xp_ledger" in present else 0
