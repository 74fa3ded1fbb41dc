"""`fiml-bot keys rotate|generate`: the encryption of learners' stored provider keys."""

from __future__ import annotations

import typer

from fiml_cms.clikit import example

from .options import DatabaseOption, user_errors
from .options import bot_settings as _settings

keys_app = typer.Typer(
    help="Learners' stored data-provider keys: encryption keys (FIML_KEY_ENCRYPTION_KEYS) and their rotation.",
    no_args_is_help=True,
)


@keys_app.command(
    "rotate",
    epilog=example('FIML_KEY_ENCRYPTION_KEYS="$NEW,$OLD" fiml-bot keys rotate --database postgresql://...'),
)
@user_errors
def rotate(
    database: str | None = DatabaseOption,
    batch: int = typer.Option(100, "--batch", min=1, help="Keys re-encrypted per transaction."),
) -> None:
    """Re-encrypt every stored key under the newest encryption key (the first of FIML_KEY_ENCRYPTION_KEYS).

    Resumable: keys already under the newest key are skipped, so an interrupted run is simply run again.
    Exit 0 when every key is under the newest key, 1 when some cannot be decrypted with any given key.
    """
    from ..keys.wiring import open_vault

    settings = _settings(None, database)
    vault = open_vault(settings.env, settings.database_url)
    report = vault.rotate(batch)
    typer.echo(report.summary())
    if report.unreadable:
        raise typer.Exit(1)


@keys_app.command("generate", epilog=example("fiml-bot keys generate"))
@user_errors
def generate() -> None:
    """Print a new Fernet key: put it first in FIML_KEY_ENCRYPTION_KEYS, keep the old ones after it."""
    from ..keys.crypto import generate as new_key

    typer.echo(new_key())
