"""The database's identity (issue 21): one row with a random id, created once.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07

Expand-only: one new table, nothing existing changes. Snapshots record the id in their manifest, and
`db restore` refuses a snapshot of another database unless told otherwise; a restore keeps the id.
Downgrade drops it (an upgrade afterwards creates a new identity: older snapshots then count as
another database's, which `--from-other-database` overrides).
"""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"

# The compatibility window (fiml_bot/storage/window.py): older code never reads the table, and this
# code works without it (manifests then record no identity), so `db upgrade` is no precondition.
oldest_code_revision = "0001"
required_by_code = False
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    table = op.create_table(
        "database_identity",
        sa.Column("one", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("one = 1", name=op.f("ck_database_identity_one_row")),
        sa.PrimaryKeyConstraint("one", name=op.f("pk_database_identity")),
    )
    op.bulk_insert(
        table,
        [{"one": 1, "id": uuid.uuid4().hex, "created_at": dt.datetime.now(dt.UTC)}],
    )


def downgrade() -> None:
    op.drop_table("database_identity")
