"""The version policy (SPEC §5): what happens to a learner when the lesson they started changes.

| pinned -> latest                         | action                | learner sees                          |
|------------------------------------------|-----------------------|---------------------------------------|
| same                                     | none                  | nothing                               |
| patch newer (1.2.0 -> 1.2.3)             | auto-migrate          | nothing                               |
| minor newer by fewer than N minor steps  | auto-migrate          | nothing                               |
| minor newer by N or more minor steps     | auto-migrate + notify | an "Updated" notice with the changes  |
| major newer (1.x -> 2.x)                 | choice                | continue the version, or restart      |
| pinned version yanked or unresolvable    | forced restart        | a notice with the reason              |

N is `notify_minor_steps` (default 2). XP and completions are kept in every row. Pure functions:
no storage, no content lookups; the tutor passes in what it knows.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from fiml_cms import versions
from fiml_cms.lesson import Lesson


class Action(str, enum.Enum):
    NONE = "none"
    AUTO_MIGRATE = "auto-migrate"
    AUTO_MIGRATE_NOTIFY = "auto-migrate + notify"
    CHOICE = "choice"
    FORCED_RESTART = "forced restart"


@dataclass(frozen=True)
class PolicySettings:
    """Thresholds from the content repository's configuration (`[policy]` in .fiml-cms.toml)."""

    notify_minor_steps: int = 2
    choice_on_major: bool = True  # False: a major update restarts in-progress learners on it

    def __post_init__(self) -> None:
        if self.notify_minor_steps < 1:
            raise ValueError("notify_minor_steps must be at least 1")


@dataclass(frozen=True)
class Decision:
    action: Action
    target: str  # the version the learner is (or may be) moved to
    reason: str = ""


def decide(
    pinned: str,
    latest: str,
    *,
    pinned_available: bool,
    pinned_yanked: bool,
    declined: bool = False,
    settings: PolicySettings = PolicySettings(),
) -> Decision:
    """The §5 row for a learner pinned to `pinned` when `latest` is the newest published version.

    `declined`: the learner already chose to continue their version when offered `latest`.
    """
    if pinned_yanked:
        return Decision(Action.FORCED_RESTART, latest, f"version {pinned} was withdrawn because of an error")
    if not pinned_available:
        return Decision(Action.FORCED_RESTART, latest, f"version {pinned} is no longer available")
    old, new = versions.parse(pinned), versions.parse(latest)
    if new <= old:
        return Decision(Action.NONE, pinned)
    if new.major != old.major:
        if declined:
            return Decision(Action.NONE, pinned)
        if not settings.choice_on_major:
            return Decision(
                Action.FORCED_RESTART, latest, f"version {latest} is a new edition of this lesson"
            )
        return Decision(Action.CHOICE, latest)
    if new.minor - old.minor >= settings.notify_minor_steps:
        return Decision(Action.AUTO_MIGRATE_NOTIFY, latest)
    return Decision(Action.AUTO_MIGRATE, latest)


def after_rename(
    decision: Decision, pinned: Lesson | None, latest: Lesson, pinned_under_former_id: bool
) -> Decision:
    """A rename is not a new edition: agree with `fiml-cms diff` on the level.

    When the learner's version was published under an id the lesson has since replaced, a major
    version number alone (an author made to bump by older tools) does not ask the learner to
    choose; only a major change of the content does. Yanked or vanished versions keep their row.
    """
    from fiml_cms.diff import diff_lessons
    from fiml_cms.versions import Level

    if (
        not pinned_under_former_id
        or pinned is None
        or decision.action not in (Action.CHOICE, Action.FORCED_RESTART)
    ):
        return decision
    if decision.action is Action.FORCED_RESTART and not decision.reason.endswith(
        "is a new edition of this lesson"
    ):
        return decision
    if diff_lessons(pinned, latest).required >= Level.MAJOR:
        return decision
    return Decision(Action.AUTO_MIGRATE, latest.version)


@dataclass(frozen=True)
class Position:
    current_section: str | None  # None: the learner is past the sections (in the quiz)
    sections_done: tuple[str, ...]


def map_position(old: Lesson, new: Lesson, current: str | None, done: tuple[str, ...]) -> Position:
    """The learner's place in `new`, by section id (SPEC §5).

    Done sections stay done if their id still exists; the current section continues if it exists,
    else the next existing section in the old order; else the first new section not yet done.
    """
    new_ids = [s.id for s in new.sections]
    kept_done = tuple(s for s in done if s in new_ids)
    if current is None:
        return Position(None, kept_done)
    if current in new_ids:
        return Position(current, kept_done)
    old_ids = [s.id for s in old.sections]
    after = old_ids[old_ids.index(current) + 1 :] if current in old_ids else []
    for candidate in after:
        if candidate in new_ids:
            return Position(candidate, kept_done)
    remaining = [s for s in new_ids if s not in kept_done]
    return Position(remaining[0] if remaining else None, kept_done)
