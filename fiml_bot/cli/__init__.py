"""The `fiml-bot` command line: the Typer modules, which only parse, call a service and render.

Imported by the entry point (`fiml_bot.entry`) and tests only: `app` and `main` are `bot.py`'s.
"""

from .bot import app, main

__all__ = ["app", "main"]
