"""Re-scoring a lesson whose answer key was fixed: who is credited, how much (`fiml-bot rescore`)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from fiml_cms.errors import UsageError

from ..bot_settings import BotSettings
from ..opening import open_content, open_units, policy_settings, require_lessons
from ..tutor.engine import Tutor
from ..tutor.rescoring import Rescored


@dataclass(frozen=True)
class Rescoring:
    """What re-scoring `lesson` did (or, in a dry run, would do): one entry per learner credited."""

    lesson: str
    results: list[Rescored]
    dry_run: bool

    @property
    def xp(self) -> int:
        return sum(r.xp + r.lesson_xp for r in self.results)

    @property
    def completed(self) -> int:
        return sum(1 for r in self.results if r.completed)


def rescore(settings: BotSettings, lesson: str, *, dry_run: bool) -> Rescoring:
    """Credit the learners whose earlier answers the lesson's newest key marks right (the tutor pays
    each question once); an unknown lesson is a usage error with the closest ids."""
    lessons = require_lessons(open_content(settings))
    known = lessons.lesson_ids()
    if lesson not in known:
        close = difflib.get_close_matches(lesson, list(known), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UsageError(f"no lesson {lesson!r} in {settings.content}{hint}")
    with open_units(settings, auto_upgrade=False) as storage:
        tutor = Tutor(lessons, storage, policy=policy_settings(lessons))
        return Rescoring(lesson, tutor.rescore(lesson, dry_run=dry_run), dry_run)
