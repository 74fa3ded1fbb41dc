"""The buttons about one lesson: open it, move to the next section, see what changed, retake, choose a version."""

from __future__ import annotations

from dataclasses import replace

from . import finishing, listing, migration, stepping
from .callbacks import CONTINUE, RESTART, ListPage, Retake, encode
from .messages import Button, Message
from .model import COMPLETED, IN_PROGRESS, QUIZ
from .turn import Turn, same_key


def open_lesson(turn: Turn, lesson_id: str) -> list[Message]:
    """Start, resume (after the version policy) or summarise a lesson; also the fallback of stale buttons."""
    latest = turn.latest(lesson_id)
    if latest is None:
        return [
            Message("That lesson is not available right now. Please try another one."),
            *listing.lessons_page(turn, 0),
        ]
    progress = turn.repo.progress(turn.learner_id, lesson_id)
    if progress is None:
        return stepping.begin(turn, latest)
    if progress.status == COMPLETED:
        return [finishing.completed_summary(progress, latest)]
    reconciled = migration.apply_policy(turn, progress)
    if isinstance(reconciled, list):
        return reconciled
    return stepping.show_step(turn, reconciled)


def next_section(turn: Turn, lesson_id: str, version: str, section_key: str) -> list[Message]:
    """ "Next" under a section: on to the following one or the quiz, if the button is the current one."""
    progress = turn.repo.progress(turn.learner_id, lesson_id)
    if progress is None or progress.status == COMPLETED:
        return open_lesson(turn, lesson_id)
    shown_under = progress.pinned_version  # a button made before an auto-migration still counts
    reconciled = migration.apply_policy(turn, progress)
    if isinstance(reconciled, list):
        return reconciled
    progress = reconciled
    lesson = turn.pinned(progress)
    current = progress.current_section
    if (
        progress.status != IN_PROGRESS
        or version not in (progress.pinned_version, shown_under)
        or not same_key(section_key, current)
    ):
        return [
            Message("↩️ That button was from an earlier message. Here is where you are:"),
            *stepping.show_step(turn, progress),
        ]
    ids = [s.id for s in lesson.sections]
    done = progress.sections_done + ((current,) if current and current not in progress.sections_done else ())
    following = ids[ids.index(current) + 1 :] if current in ids else []
    if following:
        progress = replace(progress, current_section=following[0], sections_done=done, updated_at=turn.now)
    else:
        progress = replace(
            progress, status=QUIZ, current_section=None, sections_done=done, updated_at=turn.now
        )
    progress = turn.repo.save_progress(progress)
    return stepping.show_step(turn, progress)


def view_updates(turn: Turn, lesson_id: str) -> list[Message]:
    """The changelog since the version the learner last saw; a completed lesson then counts as seen."""
    progress = turn.repo.progress(turn.learner_id, lesson_id)
    latest = turn.latest(lesson_id)
    if progress is None or latest is None:
        return open_lesson(turn, lesson_id)
    since = progress.seen_version or progress.completed_version or progress.pinned_version
    entries = turn.content.changelog_since(lesson_id, since)
    if not entries:
        text = f"No changes to **{latest.title}** since version {since}."
    else:
        lines = [f"**What changed in {latest.title}** since version {since}:"]
        for entry in entries:
            lines.append(f"\n*{entry.version}* ({entry.date})")
            lines.extend(f"• {change}" for change in entry.changes)
        text = "\n".join(lines)
    if progress.status == COMPLETED:  # for a lesson in progress, "seen" would mean a declined update
        turn.repo.save_progress(replace(progress, seen_version=latest.version, updated_at=turn.now))
    return [
        Message(
            text,
            (
                (
                    Button("🔁 Retake", encode(Retake(lesson_id))),
                    Button("📚 Lessons", encode(ListPage(0))),
                ),
            ),
        )
    ]


def retake(turn: Turn, lesson_id: str) -> list[Message]:
    """A new attempt on the newest version (past completions and XP are kept)."""
    progress = turn.repo.progress(turn.learner_id, lesson_id)
    latest = turn.latest(lesson_id)
    if latest is None:
        return open_lesson(turn, lesson_id)
    if progress is None:
        return stepping.begin(turn, latest)
    restarted = stepping.restart(turn, progress, latest)
    return stepping.show_step(turn, turn.repo.save_progress(restarted))


def choose(turn: Turn, lesson_id: str, offered: str, choice: str) -> list[Message]:
    """The answer to "a new edition is out": continue on the pinned version, or restart on the newest."""
    progress = turn.repo.progress(turn.learner_id, lesson_id)
    if progress is None or progress.pending_choice != offered or choice not in (CONTINUE, RESTART):
        return [Message("↩️ That choice is from an earlier message."), *open_lesson(turn, lesson_id)]
    if choice == CONTINUE:
        progress = turn.repo.save_progress(
            replace(progress, pending_choice=None, seen_version=offered, updated_at=turn.now)
        )
        return [
            Message(f"OK, you continue with version {progress.pinned_version}."),
            *stepping.show_step(turn, progress),
        ]
    latest = turn.latest(lesson_id)  # the newest: the one offered may have been yanked since
    if latest is None:
        return open_lesson(turn, lesson_id)
    restarted = stepping.restart(turn, progress, latest)
    return [
        Message(f"Restarting on version {latest.version}. Your XP and completions are kept."),
        *stepping.show_step(turn, turn.repo.save_progress(restarted)),
    ]
