"""The progress store: SQLAlchemy models, the unit of work, Alembic migrations, an in-memory twin.

- `open_storage(url)` -> `Storage`, a factory of `SqlUnitOfWork` (one per learner action)
- `MemoryStorage()` -> the same, in memory, for tests
- `migrations_api.upgrade|downgrade|current|head` -> the schema, through Alembic
- `database.database_url(env)`, `database.make_engine(url)` -> URLs and engines

Nothing connects or reads configuration at import time, and the names above are loaded on first use:
importing the in-memory store does not load SQLAlchemy or Alembic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .memory import MemoryStorage, MemoryUnitOfWork
    from .unit_of_work import SqlUnitOfWork, Storage, open_storage

__all__ = ["MemoryStorage", "MemoryUnitOfWork", "SqlUnitOfWork", "Storage", "open_storage"]

_HOMES = {
    "MemoryStorage": "memory",
    "MemoryUnitOfWork": "memory",
    "SqlUnitOfWork": "unit_of_work",
    "Storage": "unit_of_work",
    "open_storage": "unit_of_work",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
