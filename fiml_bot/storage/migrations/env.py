"""Alembic environment for the progress store.

The URL (or an open connection) comes from the Config that `fiml_bot.storage.migrations_api` builds
programmatically; the shipped `alembic.ini` is only for running the `alembic` tool by hand, where the
URL falls back to `FIML_DATABASE_URL` and then to the SQLite default. SQLite runs in batch mode
(tables are recreated for ALTERs it cannot do).
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy.engine import Connection

from fiml_bot.storage.database import (
    database_url,
    ensure_sqlite_folder,
    make_engine,
    parse_url,
)
from fiml_bot.storage.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return str(
        config.attributes.get("url") or config.get_main_option("sqlalchemy.url") or database_url(os.environ)
    )


def _run_and_record(connection: Connection) -> None:
    """Run the migrations, then record the schema window they leave, in the same transaction."""
    from fiml_bot.storage import window
    from fiml_bot.storage.migrations_api import revision_of

    with context.begin_transaction():
        context.run_migrations()
        window.record(connection, revision_of(connection))


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_offline() -> None:
    url = parse_url(_url())
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=url.get_backend_name() == "sqlite",
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        _run_and_record(connection)
        return
    url = _url()
    ensure_sqlite_folder(url)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            _configure(connection)
            _run_and_record(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
