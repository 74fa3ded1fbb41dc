"""What both command lines (`fiml-cms`, `fiml-bot`) share: `--version` and the `Example:` epilog."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer


def example(command: str) -> str:
    """The `Example:` epilog every command's --help ends with."""
    return f"Example:  {command}"


def version_option(program: str, version: str) -> Any:
    """An eager `--version` option that prints `PROGRAM VERSION` and exits 0."""

    def show(value: bool) -> None:
        if value:
            print(f"{program} {version}")
            raise typer.Exit()

    callback: Callable[[bool], None] = show
    return typer.Option(
        False, "--version", callback=callback, is_eager=True, help="Print the version and exit."
    )
