"""The end of a quiz: a pass (completion, XP, level and badges) or another try; a completed lesson's summary."""

from __future__ import annotations

from dataclasses import replace

from fiml_cms.lesson import Lesson

from . import gamification, listing, questions, reconcile
from . import review as spaced_review
from .callbacks import ListPage, Retake, ShowProgress, ViewUpdates, encode
from .features import REVIEW_MISTAKES, mistakes_review
from .messages import Button, Message
from .model import COMPLETED, BadgeAward, Completion, LearnerSnapshot, LessonProgress
from .turn import Turn


def finish(turn: Turn, progress: LessonProgress, lesson: Lesson) -> list[Message]:
    """All questions answered: a pass completes the lesson, a fail offers another try."""
    spaced_review.schedule(turn, lesson, progress)
    answered = {a.question_id: a for a in progress.answers}
    total = len(lesson.quiz.questions)
    score = sum(1 for q in lesson.quiz.questions if q.id in answered and answered[q.id].correct)
    if total and score / total < lesson.quiz.pass_ratio:
        return _try_again(turn, progress, lesson, score, total)
    return complete(turn, progress, lesson, score, total)


def _try_again(turn: Turn, progress: LessonProgress, lesson: Lesson, score: int, total: int) -> list[Message]:
    needed = -(-int(lesson.quiz.pass_ratio * total * 1000) // 1000)
    text = f"You scored {score}/{total}; {needed} correct answers pass this quiz. Read it again and have another go!"
    buttons = (Button("🔁 Try again", encode(Retake(lesson.id))), Button("📚 Lessons", encode(ListPage(0))))
    return [*review(turn, lesson, progress), Message(text, (buttons,))]


def complete(turn: Turn, progress: LessonProgress, lesson: Lesson, score: int, total: int) -> list[Message]:
    """Record the completion, pay the lesson's XP (once, rename-aware) and award new badges."""
    before = turn.repo.xp_total(turn.learner_id)
    award = gamification.lesson_completion_award(
        turn.learner_id,
        lesson.id,
        lesson.version,
        lesson.xp_reward,
        reconcile.paid_for_lesson(turn, lesson.id),
        turn.now,
    )
    lesson_xp = award.amount if award is not None and turn.repo.award_xp(award) else 0
    progress = replace(
        progress,
        status=COMPLETED,
        completed_version=lesson.version,
        completed_at=turn.now,
        seen_version=turn.latest_version(lesson.id) or lesson.version,
        updated_at=turn.now,
    )
    turn.repo.save_progress(progress)
    turn.repo.add_completion(
        Completion(
            turn.learner_id, lesson.id, lesson.version, progress.attempt, score, total, lesson_xp, turn.now
        )
    )
    total_xp = turn.repo.xp_total(turn.learner_id)
    level = gamification.level_for(total_xp)
    lines = [
        f"🎉 **Lesson complete: {lesson.title}**",
        f"Score {score}/{total}" + (f" · +{lesson_xp} XP for the lesson" if lesson_xp else ""),
        f"⭐ {total_xp} XP · level {level} ({gamification.level_name(level)})",
    ]
    if gamification.level_for(before) < level:
        lines.append(f"⬆️ You reached level {level}!")
    for badge in _new_badges(turn, total_xp, perfect=total > 0 and score == total):
        lines.append(f"🏅 New badge: {gamification.badge_title(badge.badge)}")
    turn.events.completions.append((lesson.id, lesson.version))
    buttons = (
        Button("📚 More lessons", encode(ListPage(0))),
        Button("📈 My progress", encode(ShowProgress())),
    )
    return [*review(turn, lesson, progress), Message("\n".join(lines), (buttons,))]


def _new_badges(turn: Turn, total_xp: int, *, perfect: bool) -> list[BadgeAward]:
    """The badges this completion earns that the learner did not have yet (each awarded once)."""
    snapshot = LearnerSnapshot(
        turn.learner,
        total_xp,
        tuple(turn.repo.completions(turn.learner_id)),
        frozenset(b.badge for b in turn.repo.badges(turn.learner_id)),
    )
    earned = gamification.new_badges(snapshot, turn.content.paths(), perfect_attempt=perfect, now=turn.now)
    return [b for b in earned if turn.repo.award_badge(b)]


def review(turn: Turn, lesson: Lesson, progress: LessonProgress) -> list[Message]:
    """The "review your mistakes" step, for learners the feature is rolled out to."""
    if not turn.enabled(REVIEW_MISTAKES):
        return []
    mistakes = mistakes_review(lesson, progress, questions.answer_text)
    return [mistakes] if mistakes else []


def completed_summary(progress: LessonProgress, latest: Lesson) -> Message:
    """What opening a completed lesson shows: when, which version, and whether it changed since."""
    when = progress.completed_at.date().isoformat() if progress.completed_at else "earlier"
    text = f"✅ You completed **{latest.title}** (version {progress.completed_version}) on {when}."
    buttons = [Button("🔁 Retake", encode(Retake(latest.id)))]
    if listing.has_updates(progress, latest):
        text += f"\n\n🔄 Updated since then: version {latest.version}."
        buttons.insert(0, Button("🔄 View updates", encode(ViewUpdates(latest.id))))
    buttons.append(Button("📚 Lessons", encode(ListPage(0))))
    return Message(text, (tuple(buttons),))
