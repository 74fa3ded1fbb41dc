"""The doctor's check of stored provider keys: can the configured encryption keys open them?

A database restored on a host without its FIML_KEY_ENCRYPTION_KEYS holds keys nobody can read: that is
a problem for the operator to fix (set the key, or have learners add theirs again), not a crash.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection, select

from fiml_cms.errors import ConfigError

from ..storage.models import ProviderKeyRow
from .crypto import HOW, cipher_from_env

TABLE = ProviderKeyRow.metadata.tables[ProviderKeyRow.__tablename__]


def unreadable_keys(connection: Connection, env: Mapping[str, str]) -> tuple[str, str] | None:
    """(message, hint) when stored keys cannot be decrypted with FIML_KEY_ENCRYPTION_KEYS; None when fine."""
    tokens = connection.execute(select(TABLE.c.ciphertext)).scalars().all()
    if not tokens:
        return None
    try:
        cipher = cipher_from_env(env)
    except ConfigError as exc:
        return f"{len(tokens)} stored provider key(s) cannot be checked: {exc}", HOW
    if cipher is None:
        return (
            f"{len(tokens)} stored provider key(s), but FIML_KEY_ENCRYPTION_KEYS is not set, so none can be decrypted",
            HOW,
        )
    bad = sum(1 for t in tokens if cipher.decrypt(t) is None)
    if not bad:
        return None
    return (
        f"{bad} of {len(tokens)} stored provider key(s) cannot be decrypted with FIML_KEY_ENCRYPTION_KEYS "
        "(a database restored without its encryption key?)",
        "add the encryption key they were stored with to FIML_KEY_ENCRYPTION_KEYS (after the newest) and run "
        "`fiml-bot keys rotate`; if it is lost, the learners must add their keys again (/removekey, /addkey)",
    )
