"""The `fiml-bot` console script: check that the bot's extra is installed, then run the command line.

`pip install fiml-cms` installs only the content tool; the bot's libraries come with
`pip install 'fiml-cms[bot]'`. Without them, every `fiml-bot` command would fail on its first import
with a `ModuleNotFoundError` reported as a bug (exit 3); this says what to install instead (exit 2).
"""

from __future__ import annotations

import importlib.util
import sys

#: The import name of each library the bot needs, and the distribution that provides it.
BOT_LIBRARIES = {
    "telegram": "python-telegram-bot",
    "httpx": "httpx",
    "sqlalchemy": "SQLAlchemy",
    "alembic": "alembic",
    "prometheus_client": "prometheus-client",
    "openfeature": "openfeature-sdk",
}
INSTALL_HINT = "pip install 'fiml-cms[bot]'"
USAGE = 2


def missing_libraries() -> list[str]:
    """The distributions of BOT_LIBRARIES that cannot be imported here."""
    return [dist for name, dist in BOT_LIBRARIES.items() if importlib.util.find_spec(name) is None]


def main() -> None:
    missing = missing_libraries()
    if missing:
        print(
            f"fiml-bot: error: the bot's libraries are not installed ({', '.join(missing)}); "
            f"install them with: {INSTALL_HINT} (with PostgreSQL: 'fiml-cms[postgres]', "
            "with a Redis send budget: 'fiml-cms[redis]')",
            file=sys.stderr,
        )
        raise SystemExit(USAGE)
    from .cli import main as run_cli

    run_cli()
