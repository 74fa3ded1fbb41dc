"""What a downgrade would destroy, found by running it in a transaction that is rolled back.

The migration's own code decides what a downgrade drops, so the only exact answer is to run it:
both databases here run DDL inside transactions, so the downgrade is applied, the schema compared
with the one before, and everything rolled back. Only then are the lost tables' rows and the lost
columns' values counted. Bookkeeping tables (Alembic's, the schema window, the database identity) are not data.
"""

from __future__ import annotations

from dataclasses import dataclass

from alembic import command
from sqlalchemy import Connection, inspect

from fiml_bot.storage import table_counts
from fiml_bot.storage.database import describe, make_engine, storage_errors
from fiml_bot.storage.migrations_api import alembic_config, revision_errors

BOOKKEEPING = {"alembic_version", "schema_window", "database_identity"}


@dataclass(frozen=True)
class Loss:
    table: str
    column: str | None  # None: the whole table
    values: int  # rows of a table, non-NULL values of a column

    def describe(self) -> str:
        if self.column is None:
            return f"table {self.table} ({self.values} row(s))"
        return f"column {self.table}.{self.column} ({self.values} value(s))"


def _shape(connection: Connection) -> dict[str, set[str]]:
    inspector = inspect(connection)
    return {
        t: {c["name"] for c in inspector.get_columns(t)}
        for t in inspector.get_table_names()
        if t not in BOOKKEEPING
    }


def downgrade_loss(url: str, revision: str) -> list[Loss]:
    """The tables and columns a downgrade to `revision` would drop, with how much data each holds."""
    engine = make_engine(url)
    try:
        with storage_errors(describe(url)), engine.connect() as connection:
            before = _shape(connection)  # (this read begins the transaction the downgrade runs in)
            config = alembic_config(url)
            config.attributes["connection"] = connection
            with revision_errors():
                command.downgrade(config, revision)
            after = _shape(connection)
            connection.rollback()
            losses = []
            for table, columns in sorted(before.items()):
                if table not in after:
                    losses.append(Loss(table, None, table_counts.row_count(connection, table)))
                    continue
                for column in sorted(columns - after[table]):
                    losses.append(Loss(table, column, table_counts.value_count(connection, table, column)))
            connection.rollback()
            return [loss for loss in losses if loss.values > 0]
    finally:
        engine.dispose()
