"""PostgreSQL statements about the server, not the progress tables: schemas and their comments,
databases, advisory locks, backends, exported snapshots.

Restore stages a snapshot in a schema of its own and swaps schemas; rehearse and restore use
throwaway databases; both mark their scratch with a JSON comment and hold an advisory lock so a
later command can tell abandoned scratch from running work (`ops/recovery.py`). These statements
have no SQLAlchemy Core form (DDL on schemas and databases, COMMENT, system catalogues), so they are
SQL text here, with identifiers quoted by the dialect and comments as literals.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, text


def _q(connection: Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote_identifier(name)


def sql_literal(value: str) -> str:
    """`value` as a SQL string literal inside SQLAlchemy's `text()` (for statements such as COMMENT
    that take no bound parameters): quotes doubled, colons escaped from bind-parameter parsing."""
    return "'" + value.replace("'", "''").replace(":", "\\:") + "'"


def current_schema(connection: Connection) -> str | None:
    schema = connection.execute(text("SELECT current_schema()")).scalar_one()
    return None if schema is None else str(schema)


def current_database(connection: Connection) -> str:
    return str(connection.execute(text("SELECT current_database()")).scalar_one())


def server_version(connection: Connection) -> int:
    return int(connection.execute(text("SHOW server_version_num")).scalar_one())


def export_snapshot(connection: Connection) -> str:
    """Begin a REPEATABLE READ transaction and export its snapshot (for `pg_dump --snapshot`)."""
    connection.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
    return str(connection.execute(text("SELECT pg_export_snapshot()")).scalar_one())


# schemas


def schema_comment(connection: Connection, schema: str) -> str | None:
    comment = connection.execute(
        text("SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = :s"),
        {"s": schema},
    ).scalar_one()
    return None if comment is None else str(comment)


def schemas_commented_like(connection: Connection, pattern: str) -> list[tuple[str, str]]:
    """(schema, comment) of the schemas whose comment is LIKE `pattern`."""
    rows = connection.execute(
        text(
            "SELECT nspname, obj_description(oid, 'pg_namespace') FROM pg_namespace "
            "WHERE obj_description(oid, 'pg_namespace') LIKE :pattern"
        ),
        {"pattern": pattern},
    ).all()
    return [(str(name), str(comment)) for name, comment in rows]


def create_schema(connection: Connection, name: str, *, if_not_exists: bool = False) -> None:
    guard = "IF NOT EXISTS " if if_not_exists else ""
    connection.execute(text(f"CREATE SCHEMA {guard}{_q(connection, name)}"))


def comment_on_schema(connection: Connection, name: str, comment: str | None) -> None:
    value = "NULL" if comment is None else sql_literal(comment)
    connection.execute(text(f"COMMENT ON SCHEMA {_q(connection, name)} IS {value}"))


def rename_schema(connection: Connection, name: str, new_name: str) -> None:
    connection.execute(text(f"ALTER SCHEMA {_q(connection, name)} RENAME TO {_q(connection, new_name)}"))


def drop_schema(connection: Connection, name: str) -> None:
    connection.execute(text(f"DROP SCHEMA IF EXISTS {_q(connection, name)} CASCADE"))


def lock_exclusive(connection: Connection, schema: str, tables: Iterable[str]) -> None:
    """EXCLUSIVE locks on `tables` of `schema` until the transaction ends: writers wait, readers go on."""
    names = ", ".join(f"{_q(connection, schema)}.{_q(connection, t)}" for t in tables)
    if names:
        connection.execute(text(f"LOCK TABLE {names} IN EXCLUSIVE MODE"))


# databases (in autocommit)


def database_oid(connection: Connection) -> int:
    """The connected database's OID: restores name their server-wide scratch (a temporary database,
    a work folder) with it, so an operator (or a test sharing the server) sees whose scratch it is."""
    return int(
        connection.execute(
            text("SELECT oid FROM pg_database WHERE datname = current_database()")
        ).scalar_one()
    )


def create_database(connection: Connection, name: str) -> None:
    connection.execute(text(f"CREATE DATABASE {_q(connection, name)}"))


def comment_on_database(connection: Connection, name: str, comment: str) -> None:
    connection.execute(text(f"COMMENT ON DATABASE {_q(connection, name)} IS {sql_literal(comment)}"))


def drop_database(connection: Connection, name: str) -> None:
    connection.execute(text(f"DROP DATABASE IF EXISTS {_q(connection, name)} WITH (FORCE)"))


def database_exists(connection: Connection, name: str) -> bool:
    found = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
    return found is not None


def databases_named_like(connection: Connection, pattern: str) -> list[tuple[str, str | None]]:
    """(database, comment) of the databases whose name is LIKE `pattern`."""
    rows = connection.execute(
        text("SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database WHERE datname LIKE :p"),
        {"p": pattern},
    ).all()
    return [(str(name), None if comment is None else str(comment)) for name, comment in rows]


# advisory locks and backends


def advisory_lock(connection: Connection, key: int) -> None:
    connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})


def try_advisory_lock(connection: Connection, key: int) -> bool:
    return bool(connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar_one())


def advisory_unlock(connection: Connection, key: int) -> None:
    connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})


def backend_pid(connection: Connection) -> int:
    return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def terminate_backend(connection: Connection, pid: int) -> None:
    connection.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
