"""The encryption of stored provider keys: `cryptography`'s Fernet, with MultiFernet over the
operator's FIML_KEY_ENCRYPTION_KEYS (comma-separated, newest first) so keys can rotate.

The only module that imports `cryptography`. No error names a key's value, only its position.
"""

from __future__ import annotations

from collections.abc import Mapping

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from fiml_cms.errors import ConfigError

VARIABLE = "FIML_KEY_ENCRYPTION_KEYS"
HOW = f"set {VARIABLE} to one or more Fernet keys, comma-separated, newest first (make one with `fiml-bot keys generate`)"


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
    """The cipher of FIML_KEY_ENCRYPTION_KEYS; None when unset; ConfigError (exit 2) for a bad entry."""
    raw = env.get(VARIABLE, "")
    entries = [e.strip() for e in raw.replace("\n", ",").split(",") if e.strip()]
    if not entries:
        return None
    keys = []
    for position, entry in enumerate(entries, 1):
        try:
            Fernet(entry.encode())
        except (ValueError, TypeError):
            raise ConfigError(
                f"{VARIABLE}: entry {position} of {len(entries)} is not a Fernet key (32 bytes, url-safe base64); {HOW}"
            ) from None
        keys.append(entry.encode())
    return Cipher(keys)


def generate() -> str:
    return Fernet.generate_key().decode()
