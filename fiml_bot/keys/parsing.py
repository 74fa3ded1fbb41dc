"""Recognising key commands in a learner's text, cheaply (the adapters import this on every update)."""

from __future__ import annotations

NAMES = ("addkey", "listkeys", "removekey")
NOT_STORED = "Sorry, this bot does not store data-provider keys."


class KeysUnavailable(Exception):
    """Keys cannot be stored here (no encryption key set, or the table is missing): `str` says why."""


def parse(text: str) -> tuple[str, str] | None:
    """(command, argument) for a key command, else None: `/addkey@bot x y` -> ("addkey", "x y")."""
    stripped = text.strip()
    if not stripped.startswith("/"):
        return None
    name, _, argument = stripped[1:].partition(" ")
    name = name.split("@", 1)[0].lower()
    return (name, argument.strip()) if name in NAMES else None


def masked_line(text: str) -> str:
    """The command as it may be shown back (the terminal's transcript): the key replaced by its last 4."""
    parsed = parse(text)
    if parsed is None or parsed[0] != "addkey":
        return text
    provider, _, key = parsed[1].partition(" ")
    key = key.strip()
    return f"/addkey {provider} ****{key[-4:]}" if key else text
