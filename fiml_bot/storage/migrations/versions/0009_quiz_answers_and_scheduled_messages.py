"""Every quiz answer, and the messages the bot starts (issue 26).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

Expand-only: two new tables, nothing existing changes, so a release that does not know them keeps
working beside one that does.

- `quiz_answers`: one row per (learner, lesson, attempt, question), as marked. `lesson_progress.answers`
  keeps only the current attempt's; re-scoring after an answer-key fix needs them all. The upgrade
  copies each current attempt's answers in (their time is the progress record's `updated_at`).
- `scheduled_messages`: what the bot tells a learner on its own (a re-scoring credit), keyed per
  learner so scheduling twice is a no-op, and marked sent by the transaction that delivers it.
- `learner_settings`: the kinds of message a learner turned off in `/settings` (no row: all on).

Downgrade drops the three: the current attempt's answers stay in `lesson_progress`; earlier attempts'
answers and undelivered messages are lost (`db downgrade` refuses without --yes when rows exist).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"

# The compatibility window (fiml_bot/storage/window.py): older code ignores the new tables, and this code
# runs without them (it then keeps no answers beyond `lesson_progress` and schedules nothing), so it
# does not make `db upgrade` a precondition.
oldest_code_revision = "0001"
required_by_code = False
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "quiz_answers",
        sa.Column("learner_id", sa.Text(), nullable=False),
        sa.Column("lesson_id", sa.Text(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Text(), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("given", sa.Text(), nullable=False),
        sa.Column("correct", sa.Boolean(), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["learner_id"], ["learners.id"], name=op.f("fk_quiz_answers_learner_id_learners")
        ),
        sa.PrimaryKeyConstraint(
            "learner_id", "lesson_id", "attempt", "question_id", name=op.f("pk_quiz_answers")
        ),
    )
    op.create_index(
        op.f("ix_quiz_answers_lesson_id_question_id"), "quiz_answers", ["lesson_id", "question_id"]
    )
    op.create_table(
        "scheduled_messages",
        sa.Column("learner_id", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["learner_id"], ["learners.id"], name=op.f("fk_scheduled_messages_learner_id_learners")
        ),
        sa.PrimaryKeyConstraint("learner_id", "key", name=op.f("pk_scheduled_messages")),
    )
    op.create_index(op.f("ix_scheduled_messages_due_at"), "scheduled_messages", ["due_at"])
    op.create_table(
        "learner_settings",
        sa.Column("learner_id", sa.Text(), nullable=False),
        sa.Column("reminders", sa.Boolean(), nullable=False),
        sa.Column("reviews", sa.Boolean(), nullable=False),
        sa.Column("announcements", sa.Boolean(), nullable=False),
        sa.Column("update_notices", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["learner_id"], ["learners.id"], name=op.f("fk_learner_settings_learner_id_learners")
        ),
        sa.PrimaryKeyConstraint("learner_id", name=op.f("pk_learner_settings")),
    )
    _copy_current_answers()


def _copy_current_answers() -> None:
    """The answers already in `lesson_progress` (the current attempt of each lesson), as rows.

    Reading JSON needs the rows, so `--sql` (offline) scripts leave this out: such a database keeps
    only the answers given after the upgrade.
    """
    if op.get_context().as_sql:
        return
    connection = op.get_bind()
    progress = sa.table(
        "lesson_progress",
        sa.column("learner_id", sa.Text()),
        sa.column("lesson_id", sa.Text()),
        sa.column("attempt", sa.Integer()),
        sa.column("answers", sa.JSON()),
        sa.column("updated_at", sa.DateTime(timezone=True)),
        sa.column("started_at", sa.DateTime(timezone=True)),
    )
    answers = sa.table(
        "quiz_answers",
        *(
            sa.column(name)
            for name in (
                "learner_id",
                "lesson_id",
                "attempt",
                "question_id",
                "version",
                "given",
                "correct",
                "answered_at",
            )
        ),
    )
    rows = []
    for record in connection.execute(sa.select(progress)):
        when = record.updated_at or record.started_at or dt.datetime.now(dt.UTC)
        for answer in record.answers or []:
            rows.append(
                {
                    "learner_id": record.learner_id,
                    "lesson_id": record.lesson_id,
                    "attempt": record.attempt,
                    "question_id": answer["question_id"],
                    "version": answer["version"],
                    "given": answer["given"],
                    "correct": bool(answer["correct"]),
                    "answered_at": when,
                }
            )
        if len(rows) >= 1000:
            connection.execute(answers.insert(), rows)
            rows = []
    if rows:
        connection.execute(answers.insert(), rows)


def downgrade() -> None:
    op.drop_table("learner_settings")
    op.drop_index(op.f("ix_scheduled_messages_due_at"), table_name="scheduled_messages")
    op.drop_table("scheduled_messages")
    op.drop_index(op.f("ix_quiz_answers_lesson_id_question_id"), table_name="quiz_answers")
    op.drop_table("quiz_answers")
