"""Learners' own data-provider keys, encrypted (issue 25).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07

Expand-only: one new table, nothing existing changes, so a release that does not know it keeps
working beside one that does. `provider_keys` holds one Fernet token per (learner, provider), never
the key itself. Downgrading drops the table and with it the learners' stored keys (they would add them
again); `db downgrade` reports that loss before it runs.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"

# The compatibility window (fiml_bot/storage/window.py): code from 0001 on runs on this schema; this
# code runs without the table too (/addkey then says keys cannot be stored yet), so the table is not a
# precondition of starting.
oldest_code_revision = "0001"
required_by_code = False
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "provider_keys",
        sa.Column("learner_id", sa.Text(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("last4", sa.Text(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_on", sa.Date(), nullable=True),
        sa.Column("used_today", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("learner_id", "provider", name=op.f("pk_provider_keys")),
    )


def downgrade() -> None:
    op.drop_table("provider_keys")
