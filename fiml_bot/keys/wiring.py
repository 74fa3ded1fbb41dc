"""The key vault and the key commands from the environment and the bot's database."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .commands import KeyCommands
    from .vault import KeyVault


def open_vault(env: Mapping[str, str], database_url: str) -> KeyVault:
    """The vault over FIML_KEY_ENCRYPTION_KEYS (ConfigError, exit 2, for a malformed one)."""
    from ..storage.database import make_engine
    from .crypto import cipher_from_env
    from .vault import KeyVault

    return KeyVault(make_engine(database_url), cipher_from_env(env))


def key_commands(
    env: Mapping[str, str], vault: KeyVault, count: Callable[[str, str], None] | None = None
) -> KeyCommands:
    """/addkey and friends, checking keys against every provider the bot knows."""
    from ..marketdata.settings import PROVIDERS, MarketDataSettings, open_provider
    from .commands import KeyCommands

    settings = MarketDataSettings.from_env(env)
    providers = {name: open_provider(name, settings.base_url) for name in PROVIDERS}
    commands = KeyCommands(vault, providers)
    if count is not None:
        commands.count = count
    return commands
