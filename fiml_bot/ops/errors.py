"""The operations' exceptions: a user can act on each (the CLI prints the message and exits 2)."""

from __future__ import annotations

from fiml_cms.errors import FimlError


class OpsError(FimlError):
    """An operation cannot run as asked (missing tool, bad snapshot, refused downgrade): exit 2."""


class OpsRefused(OpsError):
    """An operation that would do harm as things stand, refused with the option that overrides it
    (`db restore` of another database's snapshot): exit 1, a refusal in the README's table."""

    exit_code = 1
