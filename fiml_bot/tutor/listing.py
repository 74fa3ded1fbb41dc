"""The lessons list, a page at a time, with each lesson's mark (done, in progress, updated, locked)."""

from __future__ import annotations

from fiml_cms.lesson import Lesson

from .callbacks import ListPage, Open, encode
from .catalogue import LessonSummary
from .messages import Button, Message, rows
from .model import COMPLETED, LessonProgress
from .turn import Turn, newer

PAGE_SIZE = 8


def lessons_page(turn: Turn, page: int, path_id: str = "") -> list[Message]:
    progress = {p.lesson_id: p for p in turn.repo.all_progress(turn.learner_id)}
    done = {i for i, p in progress.items() if p.status == COMPLETED or p.completed_version}
    items, page, pages = turn.content.catalogue().page(page, PAGE_SIZE, also=progress)
    if not items:
        return [Message("There are no lessons yet. Please come back soon.")]
    lines = [f"**Lessons** (page {page + 1} of {pages})"]
    buttons = []
    heading = None
    for path_title, lesson in items:
        if path_title != heading:
            heading = path_title
            lines.append(f"\n*{path_title}*")
        mark = lesson_mark(turn, lesson, progress.get(lesson.id), done)
        lines.append(f"{mark} {lesson.title} · {lesson.duration_minutes} min")
        buttons.append(Button(f"{mark} {lesson.title}"[:60], encode(Open(lesson.id))))
    nav = []
    if page > 0:
        nav.append(Button("◀ Previous", encode(ListPage(page - 1, path_id))))
    if page + 1 < pages:
        nav.append(Button("Next ▶", encode(ListPage(page + 1, path_id))))
    lines.append("\n✅ done · ▶️ in progress · 🔄 updated since you finished · 🔒 needs another lesson first")
    return [Message("\n".join(lines), rows(buttons) + ((tuple(nav),) if nav else ()), replace=True)]


def lesson_mark(
    turn: Turn, lesson: Lesson | LessonSummary, progress: LessonProgress | None, done: set[str] | None = None
) -> str:
    if progress is None:
        return "🔒" if missing_prerequisites(turn, lesson, done) else "📘"
    if progress.status == COMPLETED:
        return "🔄" if has_updates(progress, lesson) else "✅"
    return "▶️"


def has_updates(progress: LessonProgress, latest: Lesson | LessonSummary) -> bool:
    """Published since the learner last saw the lesson (finished it, or read its changes)."""
    seen = progress.seen_version or progress.completed_version or progress.pinned_version
    return newer(latest.version, seen)


def missing_prerequisites(
    turn: Turn, lesson: Lesson | LessonSummary, done: set[str] | None = None
) -> list[str]:
    if done is None:
        done = {
            p.lesson_id
            for p in turn.repo.all_progress(turn.learner_id)
            if p.status == COMPLETED or p.completed_version
        }
    missing = []
    for prerequisite in lesson.prerequisites:
        current = turn.content.current_id(prerequisite) or prerequisite
        if current not in done:
            missing.append(current)
    return missing
