"""One exception root for everything fiml-cms and fiml-bot report to a user.

Both CLIs turn a `FimlError` into its message and exit code (fiml_cms/error_handler.py); anything
else is a bug (exit 3). Exit codes: 1 findings or a refusal, 2 usage or I/O. An error that callers
also catch as a `ValueError` keeps that as a second base (`class X(FimlError, ValueError)`).
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


class Refused(FimlError):
    """The command will not do what was asked as things stand (it would drop data, there is nothing
    to do, the operator declined): exit 1."""

    exit_code = 1
