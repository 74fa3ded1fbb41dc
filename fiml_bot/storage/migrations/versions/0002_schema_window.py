"""Expand-only: record the schema window in the database, and when each learner's lesson version moved.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

- `schema_window` (one row): the revision and the oldest code revision allowed to run on it, written
  after every migration run (fiml_bot/storage/window.py), so code older than this schema can tell
  whether it may run on it (blue-green: blue keeps running on the database green expanded).
- `lesson_progress.migrated_at` (nullable): when the version policy last moved the learner's pinned
  version (SPEC §5 auto-migration, restart), the seed's column. Code that knows it writes it; code
  that does not (0001) never names it, and its inserts leave it NULL.

Expand-only: old code's queries run unchanged on the result, and the downgrade drops only what this
revision added.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

# The compatibility window (see fiml_bot/storage/window.py). EVERY MIGRATION DECLARES THESE TWO:
# - oldest_code_revision: the oldest code revision that can still run on the schema this migration
#   leaves. Expand-only: unchanged from the revision below ("0001"). A contract migration (drop, rename,
#   NOT NULL without default) names the first code revision that no longer uses what it removes.
# - required_by_code: whether the code shipped with this migration cannot run without it. False here:
#   the code checks for `migrated_at` and works on 0001 too.
oldest_code_revision = "0001"
required_by_code = False


def upgrade() -> None:
    op.create_table(
        "schema_window",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Text(), nullable=False),
        sa.Column("oldest_code", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_schema_window_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schema_window")),
    )
    with op.batch_alter_table("lesson_progress") as batch:
        batch.add_column(sa.Column("migrated_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("lesson_progress") as batch:
        batch.drop_column("migrated_at")
    op.drop_table("schema_window")
