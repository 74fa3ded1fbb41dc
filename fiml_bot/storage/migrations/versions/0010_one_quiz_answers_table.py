"""One table for quiz answers: `quiz_answers` (0009) also serves first-attempt accuracy (issue 24).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

0007's `quiz_first_answers` (a learner's first answer per lesson version and question) and 0009's
`quiz_answers` (every attempt's answers) overlap: a first answer is the `quiz_answers` row of the
earliest attempt for that version. The code of this revision writes and reads `quiz_answers` only.

Expand step of an expand/contract pair: the upgrade copies into `quiz_answers` every first answer it
lacks (those given before 0009 in an attempt that is no longer the current one; their option is not
known, so `given` is '' and re-scoring never credits them), each under an attempt number below the
learner's earliest kept one. `quiz_first_answers` stays, because code of revisions 0007-0009 in the
compatibility window still writes it; a later contract migration drops it and declares
`oldest_code_revision` as this revision (docs/decisions.md, "One table for quiz answers").

Downgrade copies back into `quiz_first_answers` the first answers only `quiz_answers` holds (given
since this code ran) and removes the copied rows (`given` ''), so 0009's code finds what it wrote.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"

# Expand-only: older code keeps writing both tables and ignores the copied rows (re-scoring never
# credits an answer whose option is unknown); this code reads `quiz_answers`, which 0009 created, so it
# runs on 0009 too (without the first answers given before 0009 until the upgrade copies them).
oldest_code_revision = "0001"
required_by_code = False
branch_labels: str | None = None
depends_on: str | None = None

UNKNOWN = ""  # `given` of a first answer copied from `quiz_first_answers` (its option was not kept)

FIRST = sa.table(
    "quiz_first_answers",
    *(sa.column(name) for name in ("learner_id", "lesson_id", "version", "question_id", "answered_at")),
    sa.column("correct", sa.Boolean()),
)
ANSWERS = sa.table(
    "quiz_answers",
    *(
        sa.column(name)
        for name in ("learner_id", "lesson_id", "question_id", "version", "given", "answered_at")
    ),
    sa.column("attempt", sa.Integer()),
    sa.column("correct", sa.Boolean()),
)


def upgrade() -> None:
    if op.get_context().as_sql:  # offline scripts: the copy needs the rows (as 0009's copy does)
        return
    connection = op.get_bind()
    kept = sa.exists().where(
        ANSWERS.c.learner_id == FIRST.c.learner_id,
        ANSWERS.c.lesson_id == FIRST.c.lesson_id,
        ANSWERS.c.version == FIRST.c.version,
        ANSWERS.c.question_id == FIRST.c.question_id,
    )
    missing = connection.execute(
        sa.select(FIRST)
        .where(~kept)
        .order_by(FIRST.c.learner_id, FIRST.c.lesson_id, FIRST.c.answered_at, FIRST.c.version)
    ).all()
    if not missing:
        return
    earliest = {
        (learner, lesson): first
        for learner, lesson, first in connection.execute(
            sa.select(ANSWERS.c.learner_id, ANSWERS.c.lesson_id, sa.func.min(ANSWERS.c.attempt)).group_by(
                ANSWERS.c.learner_id, ANSWERS.c.lesson_id
            )
        )
    }
    rows = []
    for (learner, lesson), versions in _by_version(missing).items():
        below = earliest.get((learner, lesson), 1)  # each older version one attempt further back
        for back, (version, answers) in enumerate(reversed(versions.items()), start=1):
            rows += [
                {
                    "learner_id": learner,
                    "lesson_id": lesson,
                    "attempt": below - back,
                    "question_id": row.question_id,
                    "version": version,
                    "given": UNKNOWN,
                    "correct": bool(row.correct),
                    "answered_at": row.answered_at,
                }
                for row in answers
            ]
        if len(rows) >= 1000:
            connection.execute(ANSWERS.insert(), rows)
            rows = []
    if rows:
        connection.execute(ANSWERS.insert(), rows)


def _by_version(missing: list[sa.Row]) -> dict[tuple[str, str], dict[str, list[sa.Row]]]:
    """The missing first answers by learner and lesson, then by version, oldest version first."""
    grouped: dict[tuple[str, str], dict[str, list[sa.Row]]] = {}
    for row in missing:  # ordered by time within a learner and lesson
        grouped.setdefault((row.learner_id, row.lesson_id), {}).setdefault(row.version, []).append(row)
    return grouped


def downgrade() -> None:
    if op.get_context().as_sql:
        return
    connection = op.get_bind()
    ranked = sa.select(
        ANSWERS.c.learner_id,
        ANSWERS.c.lesson_id,
        ANSWERS.c.version,
        ANSWERS.c.question_id,
        ANSWERS.c.correct,
        ANSWERS.c.answered_at,
        sa.func.row_number()
        .over(
            partition_by=(
                ANSWERS.c.learner_id,
                ANSWERS.c.lesson_id,
                ANSWERS.c.version,
                ANSWERS.c.question_id,
            ),
            order_by=ANSWERS.c.attempt,
        )
        .label("rank"),
    ).subquery()
    recorded = sa.exists().where(
        FIRST.c.learner_id == ranked.c.learner_id,
        FIRST.c.lesson_id == ranked.c.lesson_id,
        FIRST.c.version == ranked.c.version,
        FIRST.c.question_id == ranked.c.question_id,
    )
    columns = ("learner_id", "lesson_id", "version", "question_id", "correct", "answered_at")
    connection.execute(
        FIRST.insert().from_select(
            list(columns),
            sa.select(*(ranked.c[name] for name in columns)).where(ranked.c.rank == 1, ~recorded),
        )
    )
    connection.execute(ANSWERS.delete().where(ANSWERS.c.given == UNKNOWN))
