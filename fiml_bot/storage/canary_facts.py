"""What learners did on each side of a content canary, read from the progress store in a few set-based
queries (one read-only transaction that takes no write lock).

A side is one version of the lesson. Its learners are the progress records pinned to that version
whose attempt started since the canary's window began (the first start on the canary version), so
both sides hold learners who started in the same period; learners who were already on the stable
version before the canary are left out (they had longer to finish). Per side: how many started,
completed, abandoned (no activity for `abandon_after`, not completed), reported a problem, and each
question's first answers (each learner's earliest attempt at that version in 0009's `quiz_answers`:
a retry never replaces them).

First answers are the one outcome not limited to the window: how a learner first answers a question
does not depend on how long ago they started, so the stable version's whole history is its baseline
(a lesson that has been live for a while gives a precise one, and a broken canary key stands out after
a few learners). The sequential test also needs their order: both versions' first answers to each
question, oldest first (the stable history, then both sides as they came).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import Engine, Table, and_, case, distinct, func, select

from .models import LearnerReportRow, LessonProgressRow, QuizAnswerRow
from .reports import read_only_connection

PROGRESS: Table = LessonProgressRow.__table__  # type: ignore[assignment]
REPORTS: Table = LearnerReportRow.__table__  # type: ignore[assignment]
ANSWERS: Table = QuizAnswerRow.__table__  # type: ignore[assignment]
COMPLETED = "completed"


@dataclass(frozen=True)
class SideFacts:
    """One version's learners in the canary window."""

    version: str
    learners: int = 0
    completed: int = 0
    abandoned: int = 0
    reporters: int = 0
    questions: dict[str, tuple[int, int]] = field(default_factory=dict)  # id -> (first answers, correct)
    # id -> both versions' first answers in the order they were given, as (on the canary, correct);
    # only on the canary's side: the sequential test (`canary_stats.blocks`) reads them
    sequence: dict[str, list[tuple[bool, bool]]] = field(default_factory=dict)


def window_start(engine: Engine, where: str, lesson_id: str, canary_version: str) -> dt.datetime | None:
    """When the first learner started the canary version (None: nobody has yet)."""
    first = select(func.min(PROGRESS.c.started_at, type_=PROGRESS.c.started_at.type)).where(
        PROGRESS.c.lesson_id == lesson_id, PROGRESS.c.pinned_version == canary_version
    )
    with read_only_connection(engine, where) as connection:
        value: dt.datetime | None = connection.execute(first).scalar()
    return value


def side_facts(
    engine: Engine,
    where: str,
    lesson_id: str,
    versions: tuple[str, ...],
    since: dt.datetime,
    now: dt.datetime,
    abandon_after: dt.timedelta,
) -> dict[str, SideFacts]:
    """Each version's facts since `since` (versions nobody is on come back with zeros); `versions` is
    (canary, stable): the first answers are paired in that order."""
    stale = now - abandon_after
    in_window = and_(
        PROGRESS.c.lesson_id == lesson_id,
        PROGRESS.c.pinned_version.in_(versions),
        PROGRESS.c.started_at >= since,
    )
    progress = (
        select(
            PROGRESS.c.pinned_version,
            func.count(),
            func.sum(case((PROGRESS.c.status == COMPLETED, 1), else_=0)),
            func.sum(
                case(
                    (and_(PROGRESS.c.status != COMPLETED, PROGRESS.c.updated_at < stale), 1),
                    else_=0,
                )
            ),
        )
        .where(in_window)
        .group_by(PROGRESS.c.pinned_version)
    )
    reports = (
        select(REPORTS.c.version, func.count(distinct(REPORTS.c.learner_id)))
        .where(
            REPORTS.c.lesson_id == lesson_id,
            REPORTS.c.version.in_(versions),
            REPORTS.c.words.is_not(None),
            REPORTS.c.created_at >= since,
        )
        .group_by(REPORTS.c.version)
    )
    canary = versions[0]
    earlier = ANSWERS.alias("earlier")
    retried = (  # the same question of the same version answered in an earlier attempt
        select(earlier.c.attempt)
        .where(
            earlier.c.learner_id == ANSWERS.c.learner_id,
            earlier.c.lesson_id == ANSWERS.c.lesson_id,
            earlier.c.question_id == ANSWERS.c.question_id,
            earlier.c.version == ANSWERS.c.version,
            earlier.c.attempt < ANSWERS.c.attempt,
        )
        .exists()
    )
    in_order = (  # each question's first answers on both sides, oldest first: counted, and the order kept
        select(  # one small integer per answer (no per-row type conversion): 2 on the canary + 1 correct
            ANSWERS.c.question_id,
            case((ANSWERS.c.version == canary, 2), else_=0) + case((ANSWERS.c.correct.is_(True), 1), else_=0),
        )
        .where(ANSWERS.c.lesson_id == lesson_id, ANSWERS.c.version.in_(versions), ~retried)
        .order_by(ANSWERS.c.question_id, ANSWERS.c.answered_at, ANSWERS.c.learner_id)
    )
    counts: dict[str, dict[str, object]] = {v: {"questions": {}, "sequence": {}} for v in versions}
    with read_only_connection(engine, where) as connection:
        for version, learners, completed, abandoned in connection.execute(progress):
            counts[version].update(
                learners=int(learners), completed=int(completed or 0), abandoned=int(abandoned or 0)
            )
        for version, reporters in connection.execute(reports):
            counts[version]["reporters"] = int(reporters)
        rows = connection.execute(in_order).all()
    sequence: dict[str, list[tuple[bool, bool]]] = {}
    for question, code in rows:
        sequence.setdefault(question, []).append((code >= 2, code % 2 == 1))
    stable = next((v for v in versions if v != canary), canary)
    for question, answers in sequence.items():  # (first answers, correct) per side that has any
        on_canary = [correct for here, correct in answers if here]
        on_stable = [correct for here, correct in answers if not here]
        for version, marks in ((canary, on_canary), (stable, on_stable)):
            if marks:
                counts[version]["questions"][question] = (len(marks), sum(marks))  # type: ignore[index]
    counts[canary]["sequence"] = sequence
    return {version: SideFacts(version, **values) for version, values in counts.items()}  # type: ignore[arg-type]
