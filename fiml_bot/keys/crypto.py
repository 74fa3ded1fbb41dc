"""The encryption of stored provider keys: `cryptography`'s Fernet, with MultiFernet over the
operator's FIML_KEY_ENCRYPTION_KEYS (comma-separated, newest first) so keys can rotate.

The only module that imports `cryptography`. The keys are checked by their setting's definition
(fiml_bot/settings.py, without cryptography, so start-up checks them), whose errors name an entry's
position, never its value.
"""

from __future__ import annotations

from collections.abc import Mapping

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from ..settings import KEY_ENCRYPTION_KEYS

HOW = f"set {KEY_ENCRYPTION_KEYS.name} to one or more Fernet keys, comma-separated, newest first (make one with `fiml-bot keys generate`)"


class Cipher:
    """Encrypts with the newest key; decrypts with any of them."""

    def __init__(self, keys: list[bytes]) -> None:
        self._newest = Fernet(keys[0])
        self._all = MultiFernet([Fernet(k) for k in keys])
        self.count = len(keys)

    def encrypt(self, secret: str) -> str:
        return self._all.encrypt(secret.encode()).decode()

    def decrypt(self, token: str) -> str | None:
        """The secret, or None when no configured key opens the token."""
        try:
            return self._all.decrypt(token.encode()).decode()
        except (InvalidToken, ValueError):
            return None

    def is_current(self, token: str) -> bool:
        """Encrypted under the newest key already (nothing for `rotate` to do)."""
        try:
            self._newest.decrypt(token.encode())
            return True
        except (InvalidToken, ValueError):
            return False

    def rotate(self, token: str) -> str | None:
        """The token re-encrypted under the newest key; None when no configured key opens it."""
        try:
            return self._all.rotate(token.encode()).decode()
        except (InvalidToken, ValueError):
            return None


def cipher_from_env(env: Mapping[str, str]) -> Cipher | None:
    """The cipher of FIML_KEY_ENCRYPTION_KEYS; None when unset. Its definition checks each entry
    (SettingsError, exit 2, naming the entry's position, never its value)."""
    keys = KEY_ENCRYPTION_KEYS.read(env)
    return Cipher([key.encode() for key in keys]) if keys else None


def generate() -> str:
    return Fernet.generate_key().decode()
