"""Throwaway PostgreSQL schemas: each test or benchmark run gets its own, so runs never see each other."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A URL whose search_path is a new, empty schema, dropped afterwards (the tests' `postgres_url`)."""
    import uuid

    from sqlalchemy import create_engine, text

    from fiml_bot.storage.database import parse_url

    parsed = parse_url(base_url)
    schema = f"fiml_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(parsed, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield parsed.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def worker_database(base_url: str, worker: str) -> str:
    """`base_url` with its database renamed `<db>_<worker>` (for instance `fiml_test_gw0`), created if
    missing: each pytest-xdist worker gets a database of its own, so whole-database work (pg_dump,
    pg_restore, listing schemas) never meets another worker's. Kept between runs (schemas are dropped)."""
    import psycopg
    from psycopg import sql

    from fiml_bot.storage.database import parse_url

    parsed = parse_url(base_url)
    name = f"{parsed.database}_{worker}"
    conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists is None:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return parsed.set(database=name).render_as_string(hide_password=False)
