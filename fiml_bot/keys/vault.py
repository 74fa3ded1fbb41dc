"""The `provider_keys` table (migration 0008): learners' keys as Fernet tokens, one transaction each.

A key is decrypted only to make a provider call, and never logged. A database without the table (not
upgraded yet) has no keys: reading works, storing says what to run.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, delete, func, inspect, select, update
from sqlalchemy.exc import SQLAlchemyError

from fiml_cms.errors import ConfigError

from ..storage.models import ProviderKeyRow
from .crypto import HOW, Cipher
from .parsing import KeysUnavailable

log = logging.getLogger("fiml_bot.keys")
TABLE = ProviderKeyRow.metadata.tables[ProviderKeyRow.__tablename__]


@dataclass(frozen=True)
class StoredKey:
    provider: str
    last4: str
    added_at: dt.datetime
    used_today: int


@dataclass(frozen=True)
class RotateReport:
    rotated: int
    current: int  # already under the newest key
    unreadable: int  # no configured key opens them

    def summary(self) -> str:
        return f"{self.rotated} key(s) re-encrypted under the newest key, {self.current} already were" + (
            f", {self.unreadable} cannot be decrypted with FIML_KEY_ENCRYPTION_KEYS"
            if self.unreadable
            else ""
        )


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class KeyVault:
    def __init__(
        self, engine: Engine, cipher: Cipher | None, clock: Callable[[], dt.datetime] = utc_now
    ) -> None:
        self.engine = engine
        self.cipher = cipher
        self.clock = clock

    def has_table(self) -> bool:
        try:
            with self.engine.connect() as conn:
                return bool(inspect(conn).has_table(TABLE.name))
        except SQLAlchemyError:
            return False

    def _cipher(self) -> Cipher:
        if self.cipher is None:
            raise KeysUnavailable(
                "this bot cannot store keys yet: its operator has not set an encryption key"
            )
        if not self.has_table():
            raise KeysUnavailable("this bot cannot store keys yet: its database needs `fiml-bot db upgrade`")
        return self.cipher

    def add(self, learner: str, provider: str, key: str) -> None:
        token = self._cipher().encrypt(key)
        with self.engine.begin() as conn:
            conn.execute(delete(TABLE).where(TABLE.c.learner_id == learner, TABLE.c.provider == provider))
            conn.execute(
                TABLE.insert().values(
                    learner_id=learner,
                    provider=provider,
                    ciphertext=token,
                    last4=key[-4:],
                    added_at=self.clock(),
                    used_on=None,
                    used_today=0,
                )
            )

    def get(self, learner: str, provider: str) -> str | None:
        """The learner's key for `provider`, decrypted; None when there is none (or it cannot be opened)."""
        if self.cipher is None or not self.has_table():
            return None
        with self.engine.connect() as conn:
            token = conn.execute(
                select(TABLE.c.ciphertext).where(TABLE.c.learner_id == learner, TABLE.c.provider == provider)
            ).scalar_one_or_none()
        if token is None:
            return None
        key = self.cipher.decrypt(token)
        if key is None:
            log.warning("a stored %s key cannot be decrypted with the configured encryption keys", provider)
        return key

    def entries(self, learner: str) -> list[StoredKey]:
        if not self.has_table():
            return []
        today = self.clock().date()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(TABLE.c.provider, TABLE.c.last4, TABLE.c.added_at, TABLE.c.used_on, TABLE.c.used_today)
                .where(TABLE.c.learner_id == learner)
                .order_by(TABLE.c.provider)
            ).all()
        return [
            StoredKey(r.provider, r.last4, _utc(r.added_at), r.used_today if r.used_on == today else 0)
            for r in rows
        ]

    def remove(self, learner: str, provider: str) -> bool:
        if not self.has_table():
            return False
        with self.engine.begin() as conn:
            gone = conn.execute(
                delete(TABLE).where(TABLE.c.learner_id == learner, TABLE.c.provider == provider)
            )
        return bool(gone.rowcount)

    def used(self, learner: str, provider: str) -> None:
        """One call made with the learner's key today (the quota /listkeys shows)."""
        today = self.clock().date()
        where = (TABLE.c.learner_id == learner, TABLE.c.provider == provider)
        with self.engine.begin() as conn:
            conn.execute(
                update(TABLE)
                .where(*where, TABLE.c.used_on == today)
                .values(used_today=TABLE.c.used_today + 1)
            )
            conn.execute(
                update(TABLE)
                .where(*where, (TABLE.c.used_on != today) | TABLE.c.used_on.is_(None))
                .values(used_on=today, used_today=1)
            )

    def used_today(self, learner: str, provider: str) -> int:
        """Calls made with the learner's key today (UTC), by every replica."""
        for entry in self.entries(learner):
            if entry.provider == provider:
                return entry.used_today
        return 0

    def count(self) -> int:
        if not self.has_table():
            return 0
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(TABLE)).scalar_one())

    def unreadable(self) -> int:
        """Stored keys no configured encryption key opens (all of them without FIML_KEY_ENCRYPTION_KEYS)."""
        if not self.has_table():
            return 0
        with self.engine.connect() as conn:
            tokens = conn.execute(select(TABLE.c.ciphertext)).scalars().all()
        if self.cipher is None:
            return len(tokens)
        return sum(1 for t in tokens if self.cipher.decrypt(t) is None)

    def rotate(self, batch: int = 100) -> RotateReport:
        """Re-encrypt every key under the newest encryption key, `batch` rows per transaction.

        Resumable: a row under the newest key already is skipped, so an interrupted run is simply run again.
        """
        if self.cipher is None:
            raise ConfigError(HOW)
        cipher = self.cipher
        rotated = current = unreadable = 0
        after: tuple[str, str] = ("", "")
        while True:
            with self.engine.begin() as conn:
                rows = conn.execute(
                    select(TABLE.c.learner_id, TABLE.c.provider, TABLE.c.ciphertext)
                    .where(
                        (TABLE.c.learner_id > after[0])
                        | ((TABLE.c.learner_id == after[0]) & (TABLE.c.provider > after[1]))
                    )
                    .order_by(TABLE.c.learner_id, TABLE.c.provider)
                    .limit(batch)
                ).all()
                for row in rows:
                    if cipher.is_current(row.ciphertext):
                        current += 1
                        continue
                    token = cipher.rotate(row.ciphertext)
                    if token is None:
                        unreadable += 1
                        continue
                    conn.execute(
                        update(TABLE)
                        .where(TABLE.c.learner_id == row.learner_id, TABLE.c.provider == row.provider)
                        .values(ciphertext=token)
                    )
                    rotated += 1
            if len(rows) < batch:
                return RotateReport(rotated, current, unreadable)
            after = (rows[-1].learner_id, rows[-1].provider)


def require_readable(vault: KeyVault) -> None:
    """Start-up: stored keys the configured encryption keys cannot open stop the bot (exit 2)."""
    stored = vault.count()
    if not stored:
        return
    if vault.cipher is None:
        raise ConfigError(
            f"{stored} learner provider key(s) are stored but FIML_KEY_ENCRYPTION_KEYS is not set: {HOW}"
        )
    bad = vault.unreadable()
    if bad:
        raise ConfigError(
            f"{bad} of {stored} stored learner provider key(s) cannot be decrypted with FIML_KEY_ENCRYPTION_KEYS: "
            "add the encryption key they were stored with (after the newest), then run `fiml-bot keys rotate`"
        )


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
