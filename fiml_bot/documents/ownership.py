"""Whose progress a document is: spotting a document that would merge into a different learner.

A document names its learner by `user_id`. When the store already holds that learner with records
the document does not contain (XP entries, lessons or completions it does not list), the document is
not simply an older or equal copy of that learner: merging would silently mix two people's
histories. Import then asks for a decision: `--as USER` (import under another id) or `--force`.
"""

from __future__ import annotations

from typing import Any

from fiml_bot.tutor.ports import ProgressRepository
from fiml_cms.errors import FimlError, UsageError

from .codec import LearnerRecords, completion_key


class ImportConflict(FimlError):
    """Documents that would merge into learners holding other data; nothing was written (exit 1)."""

    exit_code = 1

    def __init__(self, conflicts: list[str]) -> None:
        listed = "; ".join(conflicts)
        super().__init__(
            f"{listed}. Nothing was imported: give --as USER to import the document as another learner, or --force to merge anyway"
        )


def other_data(repo: ProgressRepository, records: LearnerRecords) -> str | None:
    """What the store holds for the document's learner that the document lacks; None if nothing."""
    learner_id = records.learner.id
    if repo.learner(learner_id) is None:
        return None
    keys = {award.key for award in records.xp}
    lessons = {p.lesson_id for p in records.progress}
    completions = {completion_key(c) for c in records.completions}
    extra = [
        count_label(
            sum(
                1
                for a in repo.xp_awards(learner_id)
                if a.key not in keys and not a.key.startswith(f"import-adjust:{learner_id}:")
            ),
            "XP entry",
            "XP entries",
        ),
        count_label(sum(1 for p in repo.all_progress(learner_id) if p.lesson_id not in lessons), "lesson"),
        count_label(
            sum(1 for c in repo.completions(learner_id) if completion_key(c) not in completions), "completion"
        ),
    ]
    found = [e for e in extra if e]
    if not found:
        return None
    return f"{learner_id} already exists with {', '.join(found)} this document does not have"


def count_label(n: int, one: str, many: str | None = None) -> str:
    """`3 lessons`, `1 XP entry`; empty for none."""
    return "" if not n else f"{n} {one if n == 1 else (many or one + 's')}"


def retarget(document: Any, learner_id: str) -> Any:
    """A copy of a single learner's document with `user_id` replaced (`--as USER`)."""
    if not isinstance(document, dict) or "users" in document:
        raise UsageError("--as USER takes a single learner's document, not a bundle from `export --all`")
    return {**document, "user_id": learner_id}
