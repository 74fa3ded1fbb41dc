"""The shared Telegram send budget's table (issue 14).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

Expand-only: one new table, nothing existing changes, so a release that does not know it keeps
working beside one that does. `send_budget` holds token buckets (one row per bot-token digest and
slot) for the fleet-wide rate limiter when it lives in the database (PostgreSQL without Redis).
Downgrade drops it: its rows are ephemeral (an empty table means full buckets).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"

# The compatibility window (fiml_bot/storage/window.py): code from 0001 on runs on this schema, and this
# code runs without the table too (the database budget then fails like an unreachable store: each
# process limits itself alone and logs it), so it does not make `db upgrade` a precondition.
oldest_code_revision = "0001"
required_by_code = False
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "send_budget",
        sa.Column("budget", sa.Text(), nullable=False),
        sa.Column("slot", sa.Text(), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("budget", "slot", name=op.f("pk_send_budget")),
    )


def downgrade() -> None:
    op.drop_table("send_budget")
