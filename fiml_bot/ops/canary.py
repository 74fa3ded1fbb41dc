"""Content canaries in the bot: which version of a lesson each learner is served while one runs.

A canary (`canary.<lesson>` in the flag file, written by `fiml-cms tag --canary`) is active while its
version is the newest published one. Then, per learner:

* a learner with no record of the lesson starts the canary version if the flag puts them in its
  cohort (sticky: flagd's `fractional` on (flag, learner)), else the stable version;
* a learner already on a version above `stable` (they started the canary) stays on it;
* everyone else (pinned to the stable version or older) is untouched: the policy of SPEC §5 compares
  them with the stable version, as if the canary were not published yet.

At 0 % the canary is rolled back: nobody starts it, and the versions above `stable` count as
withdrawn, so learners on them are restarted on the stable version by §5's yanked rule (XP and
completions are kept). `fiml-cms promote` removes the flag: the version is the plain latest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fiml_cms import versions
from fiml_cms.errors import FimlError
from fiml_cms.flagfile import Canary, canary_key
from fiml_cms.lesson import ChangelogEntry, Lesson

from ..tutor.ports import Content, ProgressRepository
from .flags import FeatureFlags, FlagSet, bucket


class CanaryRollout:
    """Implements the tutor's `Rollout` from the content's published canaries, or the flags in use.

    With `published` (the content's `canaries()`: the flag file committed on the release branch) the
    canaries are those alone: the canary travels with the content, so a bot that only fetches serves
    it as committed, and a stale checkout's flag file can neither start nor keep one (after `promote`).
    Without it (an embedding that wires none), the canaries of the flag file in use."""

    def __init__(self, flags: FeatureFlags, published: Callable[[], dict[str, Canary]] | None = None) -> None:
        self.flags = flags
        self.published = published
        self._seen: tuple[FlagSet, dict[str, Canary], dict[str, Canary]] | None = None

    def canaries(self) -> dict[str, Canary]:
        current = self.flags.flags
        published = self.published() if self.published is not None else _NONE
        seen = self._seen
        if seen is None or seen[0] is not current or seen[1] is not published:
            seen = (current, published, published if self.published is not None else current.canaries())
            self._seen = seen
        return seen[2]

    def view(self, content: Content, learner_id: str, progress: ProgressRepository) -> Content:
        canaries = self.canaries()
        if not canaries:
            return content
        return LearnerContent(content, canaries, learner_id, progress, self.flags)


class LearnerContent:
    """The content as one learner is served it during content canaries (for one action)."""

    def __init__(
        self,
        content: Content,
        canaries: dict[str, Canary],
        learner_id: str,
        progress: ProgressRepository,
        flags: FeatureFlags,
    ) -> None:
        self._content = content
        self._canaries = canaries
        self._learner = learner_id
        self._progress = progress
        self._flags = flags
        self._served: dict[str, Lesson] = {}

    def __getattr__(self, name: str) -> Any:  # lesson_ids, paths, current_id, get, versions
        return getattr(self._content, name)

    def active(self, lesson_id: str) -> Canary | None:
        canary = self._canaries.get(lesson_id)
        if canary is None:
            return None
        try:
            return canary if self._content.latest(lesson_id).version == canary.version else None
        except FimlError:
            return None

    def latest(self, lesson_id: str) -> Lesson:
        served = self._served.get(lesson_id)
        if served is not None:
            return served
        canary = self.active(lesson_id)
        if canary is None:
            return self._content.latest(lesson_id)
        lesson = (
            self._content.latest(lesson_id) if self.gets_canary(canary) else self._stable(lesson_id, canary)
        )
        self._served[lesson_id] = lesson
        return lesson

    def gets_canary(self, canary: Canary) -> bool:
        if canary.percent <= 0:
            return False
        record = self._progress.progress(self._learner, canary.lesson)
        if record is not None:
            return _above(record.pinned_version, canary.stable)
        return in_cohort(canary, self._learner)

    def _stable(self, lesson_id: str, canary: Canary) -> Lesson:
        """The newest servable version at or below the canary's `stable` one."""
        for version in reversed(self._content.versions(lesson_id)):
            if _above(version, canary.stable) or self._content.is_yanked(lesson_id, version):
                continue
            try:
                return self._content.get(lesson_id, version)
            except FimlError:
                continue
        return self._content.latest(lesson_id)

    def is_yanked(self, lesson_id: str, version: str) -> bool:
        canary = self.active(lesson_id)
        if canary is not None and canary.percent <= 0 and _above(version, canary.stable):
            return True  # rolled back: learners on the canary are moved by the yanked rule
        return self._content.is_yanked(lesson_id, version)

    def changelog_since(self, lesson_id: str, version: str) -> list[ChangelogEntry]:
        if self.active(lesson_id) is None:
            return self._content.changelog_since(lesson_id, version)
        return [e for e in self.latest(lesson_id).changelog if _above(e.version, version)]


def in_cohort(canary: Canary, learner_id: str) -> bool:
    """Whether a new learner starts the canary: flagd's `fractional` bucket of (flag key, learner), the
    "on" range first, so raising the share only adds learners (the same answer the flag file gives)."""
    return bucket(canary_key(canary.lesson), learner_id) < canary.percent


def canary_share(canaries: dict[str, Canary], lesson_id: str) -> int | None:
    """A lesson's canary share in percent (None: no canary), e.g. from `LessonContent.canaries()`; it is
    set, committed, by `fiml_cms.commands.canary.set_share` (`fiml-cms canary LESSON N`)."""
    canary = canaries.get(lesson_id)
    return None if canary is None else canary.percent


_NONE: dict[str, Canary] = {}


def _above(version: str, floor: str) -> bool:
    try:
        return versions.parse(version) > versions.parse(floor)
    except ValueError:
        return False
