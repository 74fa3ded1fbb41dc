"""`fiml-bot flags check` and `flags explain`: results, then rendering (the CLI only prints them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fiml_cms import versions
from fiml_cms.errors import FimlError
from fiml_cms.flagfile import canary_key

from ..tutor.features import REVIEW_MISTAKES, LearnerContext
from .canary import LearnerContent
from .flags import FeatureFlags, FlagSet


@dataclass(frozen=True)
class CheckResult:
    flags: FlagSet
    notes: list[str]  # facts about canaries against the content (not errors: content may be deployed later)

    def render(self) -> str:
        lines = [f"{self.flags.source}: {len(self.flags.flags)} flag(s) OK"]
        lines += [f"  {key}: {_summary(flag)}" for key, flag in sorted(self.flags.flags.items())]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def _summary(flag: dict[str, Any]) -> str:
    from fiml_cms.flagfile import on_percent

    state = flag.get("state")
    if state == "DISABLED":
        return "disabled (everyone gets the code default)"
    percent = on_percent(flag) if "on" in flag.get("variants", {}) else None
    if percent is not None:
        return f"on for {percent} % (fractional, sticky per learner)"
    return f"default variant {flag.get('defaultVariant')!r}" + (
        ", with targeting" if flag.get("targeting") else ""
    )


def canary_notes(flags: FlagSet, content: Any) -> list[str]:
    """What each canary does against the content in use: running, waiting for its version, or moot."""
    notes = []
    for lesson_id, canary in sorted(flags.canaries().items()):
        try:
            published = content.versions(lesson_id)
            newest = content.latest(lesson_id).version
        except FimlError:
            notes.append(f"canary.{lesson_id}: no lesson {lesson_id!r} is published; the flag does nothing")
            continue
        if canary.version not in published:
            notes.append(
                f"canary.{lesson_id}: version {canary.version} is not published yet; learners get {newest}"
            )
        elif newest != canary.version:
            notes.append(
                f"canary.{lesson_id}: {newest} was published after the canary {canary.version}; the flag does nothing (remove it with `fiml-cms promote`)"
            )
        elif canary.stable not in published:
            notes.append(
                f"canary.{lesson_id}: stable version {canary.stable} is not published; the newest published below it is served"
            )
        else:
            state = (
                "rolled back (learners on it restart on the stable version)"
                if canary.percent == 0
                else f"{canary.percent} % of new starts"
            )
            notes.append(
                f"canary.{lesson_id}: {canary.version} running for {state}; the others get {canary.stable}"
            )
    return notes


def served(
    flags: FeatureFlags,
    flag: str,
    learner_id: str,
    content: Any,
    progress: Any,
    context: LearnerContext | None = None,
) -> str | None:
    """What the learner actually gets from the flags the bot uses: the version served, or the feature's state."""
    if flag == REVIEW_MISTAKES:
        return (
            "the review-your-mistakes step after each quiz"
            if flags.enabled(flag, learner_id, lambda: context or LearnerContext())
            else "no review step after quizzes"
        )
    canary = flags.canaries().get(flag.removeprefix("canary.")) if flag.startswith("canary.") else None
    if canary is None or content is None or flag != canary_key(canary.lesson):
        return None
    view = LearnerContent(content, flags.canaries(), learner_id, progress, flags)
    if view.active(canary.lesson) is None:
        return f"{canary.lesson} {content.latest(canary.lesson).version} (the canary is not running against this content)"
    record = progress.progress(learner_id, canary.lesson)
    version = view.latest(canary.lesson).version
    if record is None:
        return f"{canary.lesson} {version} when they start it"
    pinned = record.pinned_version
    if view.is_yanked(canary.lesson, pinned):
        return f"{canary.lesson} {version}: they are on the rolled-back {pinned} and restart on {version} at their next step (XP kept)"
    moved = (
        ""
        if pinned == version or versions.parse(pinned) > versions.parse(version)
        else f"; the version policy compares them with {version}"
    )
    return f"{canary.lesson} {pinned} (started before; pinned learners are untouched{moved})"


class NoProgress:
    """For `explain` without a database: the learner has no records (what a new learner gets)."""

    def progress(self, learner_id: str, lesson_id: str) -> None:
        return None

    def learner(self, learner_id: str) -> None:
        return None
