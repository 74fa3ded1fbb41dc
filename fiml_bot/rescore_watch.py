"""Re-scoring as the bot runs: after a content refresh brings a lesson version whose answer key differs
from the version served before, the learners the new key marks right are credited (`Tutor.rescore`).

Every replica may do it at once: the ledger keys, the scheduled message's key and the progress
revision make a second run pay and say nothing. A fix published while no bot was running is
credited by `fiml-bot rescore LESSON`.
"""

from __future__ import annotations

import logging

from fiml_cms.errors import FimlError

from .content import LessonContent
from .tutor.engine import Tutor
from .tutor.rescoring import answer_keys_differ

log = logging.getLogger("fiml_bot.rescore")


class RescoreAfterRefresh:
    """The content as the refresher sees it: `refresh()` refreshes, then re-scores what changed keys."""

    def __init__(self, content: LessonContent, tutor: Tutor) -> None:
        self.content = content
        self.tutor = tutor
        self._served = self._latest()

    @property
    def max_staleness(self) -> float | None:
        return self.content.max_staleness

    @max_staleness.setter
    def max_staleness(self, value: float | None) -> None:
        self.content.max_staleness = value

    def refresh(self) -> None:
        self.content.refresh()
        served, self._served = self._served, self._latest()
        for lesson_id, version in self._served.items():
            before = served.get(lesson_id)
            if before is None or before == version:
                continue
            try:
                if not answer_keys_differ(
                    self.content.get(lesson_id, before), self.content.latest(lesson_id)
                ):
                    continue
                credited = self.tutor.rescore(lesson_id)
            except FimlError as exc:
                log.warning("could not re-score %s after %s -> %s: %s", lesson_id, before, version, exc)
                continue
            log.info("lesson %s %s -> %s: %d learner(s) re-scored", lesson_id, before, version, len(credited))

    def _latest(self) -> dict[str, str]:
        latest = {}
        for lesson_id in self.content.lesson_ids():
            try:
                latest[lesson_id] = self.content.latest(lesson_id).version
            except FimlError:
                continue
        return latest
