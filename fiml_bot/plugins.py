"""Plugins: modules named in FIML_PLUGINS (comma-separated) get the tutor before the bot serves.

Each module's `install(tutor)` may wrap the tutor's methods. The release drill uses it to give one
color an injected fault; an operator may use it for local instrumentation. Nothing is loaded unless
the variable names it.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from typing import Any

from fiml_cms.errors import FimlError

from .settings import PLUGINS

log = logging.getLogger("fiml_bot.plugins")


class PluginError(FimlError):
    """FIML_PLUGINS names a plugin that cannot be imported or installed (exit 2)."""

    exit_code = 2


def install(tutor: Any, env: Mapping[str, str]) -> list[str]:
    """Import and install every plugin FIML_PLUGINS names; the names installed."""
    names = list(PLUGINS.read(env))
    for name in names:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise PluginError(f"FIML_PLUGINS: cannot import {name}: {exc}") from None
        hook = getattr(module, "install", None)
        if not callable(hook):
            raise PluginError(f"FIML_PLUGINS: {name} has no install(tutor) function")
        hook(tutor)
        log.warning("plugin %s installed", name)
    return names
