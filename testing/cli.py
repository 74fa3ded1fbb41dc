"""`fiml-cms` in process, as the tests call it."""

from __future__ import annotations

from typing import Any


def cli(*args: str) -> Any:
    """Run `fiml-cms ARGS` through Typer's runner; a traceback fails the test."""
    from typer.testing import CliRunner

    from fiml_cms.cli import app

    result = CliRunner().invoke(app, list(args), env={"GITHUB_ACTIONS": "false"})
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def fiml_bot(*args: str, input: str | None = None) -> Any:
    """Run `fiml-bot ARGS` through Typer's runner; a traceback fails the test."""
    from typer.testing import CliRunner

    from fiml_bot.cli import app

    result = CliRunner().invoke(app, list(args), input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result
