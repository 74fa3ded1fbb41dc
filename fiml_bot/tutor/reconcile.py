"""Before any action: follow renamed lessons and pay past completers a raised reward.

Renames also decide payments elsewhere: a lesson or answer paid under a former id is paid.
"""

from __future__ import annotations

import logging

from . import gamification
from .messages import Message
from .turn import Turn

log = logging.getLogger("fiml_bot.tutor")


def reconcile_records(turn: Turn) -> None:
    """Follow renamed lessons (`replaces`) and credit raised rewards, before any action."""
    raised = []
    for progress in turn.repo.all_progress(turn.learner_id):
        current = turn.content.current_id(progress.lesson_id)
        if current and current != progress.lesson_id:
            log.info(
                "learner %s: lesson %s is now %s; moving progress",
                turn.learner_id,
                progress.lesson_id,
                current,
            )
            turn.repo.rename_lesson(turn.learner_id, progress.lesson_id, current)
        if progress.completed_version and _reward_rose(
            turn, current or progress.lesson_id, progress.completed_version
        ):
            raised.append(current or progress.lesson_id)
    for lesson_id in raised:
        _credit_raised_rewards(turn, only=lesson_id)


def _reward_rose(turn: Turn, lesson_id: str, completed_version: str) -> bool:
    """Cheap test before the ledger is read: is the reward now above the completed version's?"""
    latest, then = turn.latest(lesson_id), turn.lesson_at(lesson_id, completed_version)
    return latest is not None and then is not None and latest.xp_reward > then.xp_reward


def _former_ids(turn: Turn, lesson_id: str) -> tuple[str, ...]:
    latest = turn.latest(lesson_id)
    return latest.replaces if latest else ()


def paid_for_lesson(turn: Turn, lesson_id: str) -> int:
    """Paid for completing the lesson, under its id or an id it replaces (a rename pays once)."""
    return gamification.paid_for_lesson(
        turn.repo.xp_awards(turn.learner_id), (lesson_id, *_former_ids(turn, lesson_id))
    )


def answer_paid_under_former_ids(turn: Turn, lesson_id: str, question_id: str) -> bool:
    """The ledger's unique key stops a second payment under the same id; this covers renames."""
    former = _former_ids(turn, lesson_id)
    return bool(former) and gamification.answer_paid(
        turn.repo.xp_awards(turn.learner_id), former, question_id
    )


def _credit_raised_rewards(turn: Turn, only: str | None = None) -> None:
    """A lesson whose `xp_reward` rose pays past completers the difference (never takes XP away)."""
    for progress in turn.repo.all_progress(turn.learner_id):
        if progress.completed_version is None or (only and progress.lesson_id != only):
            continue
        latest = turn.latest(progress.lesson_id)
        if latest is None:
            continue
        award = gamification.raise_award(
            turn.learner_id,
            latest.id,
            latest.version,
            latest.xp_reward,
            paid_for_lesson(turn, latest.id),
            turn.now,
        )
        if award is not None and turn.repo.award_xp(award):
            turn.notes.append(
                Message(
                    f"⭐ **{latest.title}** now rewards more XP: +{award.amount} XP for having completed it."
                )
            )
