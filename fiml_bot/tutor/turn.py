"""One learner action's state, and what it asks the content: the lesson versions it may serve.

A `Turn` lives for one action inside one unit of work. Lessons are looked up here, never straight
from the content, because an unknown version means "this replica may be behind": refresh and run
the action again (`ContentMayBeNewer`), and after that tell the learner to try again shortly
(`LessonUpdating`). Buttons name lessons by id or short key; `resolve` maps them back.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from fiml_cms.errors import FimlError
from fiml_cms.lesson import Lesson

from . import callbacks
from .features import Features, LearnerContext, learner_context
from .messages import Message
from .model import Learner, LessonProgress
from .observe import ActionEvents
from .policy import PolicySettings
from .ports import Content, ProgressRepository, StorageUnavailable

log = logging.getLogger("fiml_bot.tutor")


class ContentMayBeNewer(Exception):
    """The learner's records name a lesson version this replica cannot resolve yet: refresh, then run again."""


class LessonUpdating(Exception):
    """Still unresolvable after a refresh: the learner is told to try again, and nothing changes."""


@dataclass(eq=False)
class Turn:
    """One learner action inside one unit of work: who, when, the repository and content it uses.

    Mutable on purpose: the handlers update `learner`, append `notes` and record `events` as they go.
    """

    content: Content
    repo: ProgressRepository
    learner_id: str
    name: str
    now: dt.datetime
    policy: PolicySettings
    features: Features
    events: ActionEvents
    refreshed: bool = False  # the content was refreshed for this action already
    language: str = ""  # the platform's language code for the learner, if it says
    notes: list[Message] = field(default_factory=list)  # shown above the action's own reply
    learner: Learner = field(init=False)  # set first thing by the dispatcher

    def learner_context(self) -> LearnerContext:
        """What flag rules may look at (read only when a flag asks)."""
        return learner_context(self.repo, self.learner_id, self.now, self.language, self.learner)

    def enabled(self, flag: str) -> bool:
        """Whether a feature flag is on for this learner, with what the bot knows of them as context."""
        return self.features.enabled(flag, self.learner_id, self.learner_context)

    def resolve(self, key: str) -> str | None:
        lesson_id = self.content.catalogue().resolve_key(key)
        if lesson_id is None and key and not key.startswith("~"):
            lesson_id = self.content.current_id(key)
        return lesson_id

    def resolve_pressed(self, key: str) -> str | None:
        """A button's lesson; one the learner has records of but this replica does not know yet is pending."""
        lesson_id = self.resolve(key)
        if lesson_id is None and any(
            same_key(key, p.lesson_id) for p in self.repo.all_progress(self.learner_id)
        ):
            self.not_resolvable_yet(f"lesson {key!r}")
        return lesson_id

    def not_resolvable_yet(self, what: str) -> None:
        """Refresh and run the action again, once; after that, tell the learner to try again shortly."""
        if self.refreshed:
            raise LessonUpdating(what)
        raise ContentMayBeNewer(what)

    def latest(self, lesson_id: str) -> Lesson | None:
        try:
            return self.content.latest(lesson_id)
        except FimlError as exc:
            log.warning("lesson %s has no servable version: %s", lesson_id, exc)
            return None

    def latest_version(self, lesson_id: str) -> str | None:
        latest = self.latest(lesson_id)
        return latest.version if latest else None

    def lesson_at(self, lesson_id: str, version: str) -> Lesson | None:
        try:
            return self.content.get(lesson_id, version)
        except FimlError:
            return None

    def pinned_or_pending(self, lesson_id: str, version: str) -> Lesson | None:
        """The version a learner is pinned to; None when it is known not to exist (§5: forced restart).

        Known not to exist: yanked, or below the newest published version and in none of tags, history
        and archive. A version this replica cannot resolve otherwise (newer than its content) is
        pending: the action is run again after a refresh, and then stops without changing anything.
        """
        lesson = self.lesson_at(lesson_id, version)
        if lesson is not None:
            return lesson
        if self.content.is_yanked(lesson_id, version) or _below(
            version, self.content.newest_version(lesson_id)
        ):
            return None
        self.not_resolvable_yet(f"{lesson_id}@{version}")
        return None  # pragma: no cover - the call above always raises

    def pinned(self, progress: LessonProgress) -> Lesson:
        lesson = self.pinned_or_pending(progress.lesson_id, progress.pinned_version) or self.latest(
            progress.lesson_id
        )
        if lesson is None:
            raise StorageUnavailable(f"lesson {progress.lesson_id} cannot be served")
        return lesson


def same_key(key: str, value: str | None) -> bool:
    return value is not None and (key == value or key == callbacks.short_key(value))


def _below(version: str, newest: str | None) -> bool:
    """`version` cannot be published later: it is not a version at all, or older than the newest one."""
    from fiml_cms import versions

    if newest is None:
        return False
    if not versions.is_valid(version):
        return True
    return newer(newest, version)


def newer(a: str, b: str) -> bool:
    from fiml_cms import versions

    try:
        return versions.parse(a) > versions.parse(b)
    except ValueError:
        return False
