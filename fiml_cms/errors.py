"""One exception root for everything fiml-cms reports to a user.

The CLI turns a `FimlError` into its message and exit code; anything else is a bug.
"""

from __future__ import annotations


class FimlError(Exception):
    """An error a user can act on: the message says what and where."""

    exit_code = 2


class UsageError(FimlError):
    """Wrong arguments or options (exit 2)."""


class ConfigError(FimlError):
    """A configuration file that cannot be read or makes no sense (exit 2)."""


class ContentError(FimlError):
    """Content that cannot be processed as asked (exit 1)."""

    exit_code = 1


class MissingInput(ContentError):
    """Something named on the command line does not exist: not a git repository, an unknown lesson,
    an unknown git ref (exit 2, a usage or I/O error). A ContentError still, so code that skips
    unreadable content keeps skipping it."""

    exit_code = 2
