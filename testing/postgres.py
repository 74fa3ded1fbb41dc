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
