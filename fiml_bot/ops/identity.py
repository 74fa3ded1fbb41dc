"""A database's identity: the random id migration 0006 stores once, so snapshots know where they came from.

A snapshot's manifest records the id; `db restore` compares it with the database's own, refusing a
stranger's snapshot unless the operator says otherwise, and a restore keeps the database's id.
"""

from __future__ import annotations

from fiml_bot.storage.database_identity import TABLE, identity_of, keep_identity

__all__ = ["TABLE", "identity_of", "keep_identity", "short"]


def short(identity: str | None) -> str:
    """For listings: the first 12 hex digits (unique enough among one folder's sources)."""
    return identity[:12] if identity else "-"
