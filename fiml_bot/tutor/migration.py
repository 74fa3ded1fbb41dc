"""The version policy (§5 of the spec) applied to an in-progress learner when a newer version is out.

`policy.decide` says what to do; this carries it out: migrate the learner's position (with or
without a notice), offer a choice, or restart them when their version is gone.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from fiml_cms.lesson import Lesson

from . import stepping
from .callbacks import CONTINUE, RESTART, Choose, encode
from .messages import Button, Message, rows
from .model import IN_PROGRESS, QUIZ, LessonProgress
from .policy import Action, Decision, after_rename, decide, map_position
from .turn import Turn

log = logging.getLogger("fiml_bot.tutor")


def apply_policy(turn: Turn, progress: LessonProgress) -> LessonProgress | list[Message]:
    """Move an in-progress learner by the §5 rule; a list of messages means "stop and show these".

    Auto-migrations let the action go on (its button names a section or question that is mapped
    by id); a choice or a forced restart stops it, since the learner must first see what changed.
    """
    latest = turn.latest(progress.lesson_id)
    if latest is None:
        return progress  # nothing newer can be served: stay on the pinned version
    pinned = turn.pinned_or_pending(progress.lesson_id, progress.pinned_version)
    if pinned is not None:
        progress = follow_rewritten(turn, progress, pinned)
    decision = _decide(turn, progress, pinned, latest)
    if decision.action is Action.NONE:
        return progress
    turn.events.policy_actions.append(decision.action.value)
    if decision.action is Action.CHOICE:
        if progress.pending_choice != latest.version:
            progress = turn.repo.save_progress(
                replace(progress, pending_choice=latest.version, updated_at=turn.now)
            )
        return [choice_message(turn, progress, latest)]
    if decision.action is Action.FORCED_RESTART:
        log.info("forced restart of %s for %s: %s", progress.lesson_id, turn.learner_id, decision.reason)
        turn.notes.append(
            Message(
                f"ℹ️ **{latest.title}**: {decision.reason}, so you restart on version {latest.version}. Your XP and completions are kept."
            )
        )
        restarted = stepping.restart(turn, progress, latest)
        return stepping.show_step(
            turn, turn.repo.save_progress(restarted)
        )  # the button was the old version's
    assert pinned is not None
    if decision.action is Action.AUTO_MIGRATE_NOTIFY:
        changes = changes_since(turn, progress.lesson_id, progress.pinned_version, "small improvements")
        turn.notes.append(
            Message(
                f"🔄 **Updated:** {latest.title} is now version {latest.version}. What changed:\n{changes}"
            )
        )
    return turn.repo.save_progress(_migrated(turn, progress, pinned, latest))


def follow_rewritten(turn: Turn, progress: LessonProgress, pinned: Lesson) -> LessonProgress:
    """The learner's place when their published version changed under them (a force-moved tag):
    sections they did that are gone are dropped, and a current section that is gone gives way to the
    first section at or after their place (after the last done one that still exists), not the quiz.
    A published version should never change, so this is logged as a warning."""
    ids = [s.id for s in pinned.sections]
    current = progress.current_section if progress.status == IN_PROGRESS else None
    gone_done = [d for d in progress.sections_done if d not in ids]
    if not gone_done and (current is None or current in ids):
        return progress
    done = tuple(d for d in progress.sections_done if d in ids)
    moved_to = current
    if current is not None and current not in ids:
        start = max((ids.index(d) + 1 for d in done), default=0)
        moved_to = next((s for s in ids[start:] if s not in done), None) or next(
            (s for s in ids if s not in done), None
        )
    gone = ([current] if current is not None and current not in ids else []) + gone_done
    log.warning(
        "published version %s of %s changed after it was published (a moved tag?): section(s) %s gone; learner %s %s",
        progress.pinned_version,
        progress.lesson_id,
        ", ".join(repr(g) for g in gone),
        turn.learner_id,
        f"continues at {moved_to!r}" if current is not None and moved_to else "keeps their place",
    )
    status = progress.status
    if current is not None and moved_to is None:
        status = QUIZ  # every section that exists is done
    return turn.repo.save_progress(
        replace(
            progress,
            status=status,
            current_section=moved_to if status == IN_PROGRESS else None,
            sections_done=done,
            updated_at=turn.now,
        )
    )


def _decide(turn: Turn, progress: LessonProgress, pinned: Lesson | None, latest: Lesson) -> Decision:
    decision = decide(
        progress.pinned_version,
        latest.version,
        pinned_available=pinned is not None,
        pinned_yanked=turn.content.is_yanked(progress.lesson_id, progress.pinned_version),
        declined=progress.seen_version == latest.version != progress.pinned_version
        and progress.pending_choice is None,
        settings=turn.policy,
    )
    return after_rename(
        decision, pinned, latest, progress.pinned_version not in turn.content.versions(progress.lesson_id)
    )


def _migrated(turn: Turn, progress: LessonProgress, pinned: Lesson, latest: Lesson) -> LessonProgress:
    """The learner's place in `pinned` mapped onto `latest` by section id (the quiz when none is left)."""
    position = map_position(
        pinned,
        latest,
        progress.current_section if progress.status == IN_PROGRESS else None,
        progress.sections_done,
    )
    status = progress.status
    if status == IN_PROGRESS and position.current_section is None:
        status = QUIZ
    return replace(
        progress,
        pinned_version=latest.version,
        status=status,
        current_section=position.current_section if status == IN_PROGRESS else None,
        sections_done=position.sections_done,
        updated_at=turn.now,
        seen_version=latest.version,
        pending_choice=None,
    )


def choice_message(turn: Turn, progress: LessonProgress, latest: Lesson) -> Message:
    """ "A new edition is out": what changed, and buttons to continue on the pinned version or restart."""
    changes = changes_since(turn, progress.lesson_id, progress.pinned_version, "a reworked lesson")
    text = (
        f"🆕 A new edition of **{latest.title}** is out (version {latest.version}; you started {progress.pinned_version}). What changed:\n{changes}\n\n"
        "Continue where you are on your version, or restart with the new one? Your XP and completions are kept either way."
    )
    buttons = (
        Button("▶️ Continue my version", encode(Choose(latest.id, latest.version, CONTINUE))),
        Button("🆕 Restart on the new one", encode(Choose(latest.id, latest.version, RESTART))),
    )
    return Message(text, rows(list(buttons)))


def changes_since(turn: Turn, lesson_id: str, version: str, otherwise: str) -> str:
    """The changelog lines published after `version`, as a bullet list (the seed's update notice)."""
    entries = turn.content.changelog_since(lesson_id, version)
    return "\n".join(f"• {c}" for e in entries for c in e.changes) or f"• {otherwise}"
