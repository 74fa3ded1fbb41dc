"""The storage package's own exceptions (the tutor's port defines ConcurrentUpdate and StorageUnavailable)."""

from __future__ import annotations

from fiml_bot.tutor.ports import StorageUnavailable
from fiml_cms.errors import FimlError


class DatabaseUrlError(FimlError, ValueError):
    """The database URL cannot be parsed or names a database this project does not support: a usage
    error (exit 2), reported without the URL's password."""

    exit_code = 2


class SchemaOutOfDate(StorageUnavailable):
    """The database's schema revision is not the one this code needs (missing, older or unknown)."""


class UnknownLearner(LookupError):
    """A record was added for a learner that was never saved: a programming error, not a retry case."""

    def __init__(self, learner_id: str) -> None:
        super().__init__(f"learner {learner_id!r} is not saved: save_learner must come first")
        self.learner_id = learner_id
