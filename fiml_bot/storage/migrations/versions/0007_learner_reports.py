"""Learner reports and first quiz answers: what content canaries are judged by (issue 24).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07

Expand-only: one new table, nothing existing changes, so code that does not know it keeps working
beside code that does. A row is a report about one lesson version's section or question; `words` is
NULL while the bot waits for the learner to say what is wrong (a pending report), and set once filed.
Indexes: a learner's pending report (read on typed text), and an author's listing per lesson.

`quiz_first_answers` keeps each learner's first answer to each question of a lesson version (one row
per learner, lesson, version and question; later attempts insert nothing): `lesson_progress.answers`
holds only the current attempt, so a retry after a failed quiz erased the first answers, exactly those
a content canary's first-attempt accuracy needs.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"

# The compatibility window (fiml_bot/storage/window.py): older code never reads the table, so it runs
# on this schema; this code runs without it too (a report is then refused with the upgrade hint, and
# nothing else changes), so it does not make `db upgrade` a precondition.
oldest_code_revision = "0001"
required_by_code = False
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "learner_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("learner_id", sa.Text(), nullable=False),
        sa.Column("lesson_id", sa.Text(), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("section_id", sa.Text(), nullable=True),
        sa.Column("question_id", sa.Text(), nullable=True),
        sa.Column("words", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["learner_id"], ["learners.id"], name=op.f("fk_learner_reports_learner_id_learners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_learner_reports")),
    )
    op.create_index(op.f("ix_learner_reports_learner_id"), "learner_reports", ["learner_id"])
    op.create_index(op.f("ix_learner_reports_lesson_id_version"), "learner_reports", ["lesson_id", "version"])
    op.create_table(
        "quiz_first_answers",
        sa.Column("learner_id", sa.Text(), nullable=False),
        sa.Column("lesson_id", sa.Text(), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("question_id", sa.Text(), nullable=False),
        sa.Column("correct", sa.Boolean(), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["learner_id"], ["learners.id"], name=op.f("fk_quiz_first_answers_learner_id_learners")
        ),
        sa.PrimaryKeyConstraint(
            "learner_id", "lesson_id", "version", "question_id", name=op.f("pk_quiz_first_answers")
        ),
    )
    op.create_index(  # covering the canary watcher's per-question counts
        op.f("ix_quiz_first_answers_lesson_id_version_question_id_correct"),
        "quiz_first_answers",
        ["lesson_id", "version", "question_id", "correct"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_quiz_first_answers_lesson_id_version_question_id_correct"), table_name="quiz_first_answers"
    )
    op.drop_table("quiz_first_answers")
    op.drop_index(op.f("ix_learner_reports_lesson_id_version"), table_name="learner_reports")
    op.drop_index(op.f("ix_learner_reports_learner_id"), table_name="learner_reports")
    op.drop_table("learner_reports")
