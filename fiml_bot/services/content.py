"""Open the settings' content where an operation can go on without it (the doctor, a rehearsal,
`flags`, a document import): the content, or the reason it could not be opened."""

from __future__ import annotations

from dataclasses import dataclass

from fiml_cms.errors import FimlError

from ..bot_settings import BotSettings
from ..content import LessonContent
from ..opening import open_content


@dataclass(frozen=True)
class OptionalContent:
    content: LessonContent | None
    reason: str | None  # why there is no content (None when there is)


def optional_content(settings: BotSettings) -> OptionalContent:
    """The content, or None with the error that stopped it (the caller decides how to say so)."""
    try:
        return OptionalContent(open_content(settings), None)
    except FimlError as error:
        return OptionalContent(None, str(error))
