"""An index on processed_events.processed_at, so old update ids are pruned by range, not by a full scan.

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-02

Expand-only: one new index, no table or column changed; code at 0001 runs unchanged on it, and the
downgrade drops just the index.
"""

from __future__ import annotations

from alembic import op

revision: str = "0004"
down_revision: str | None = "0002"

# The compatibility window (fiml_bot/storage/window.py): an index changes no query's result, so every
# code revision from 0001 on runs on it, and this code runs without it (pruning is just slower).
oldest_code_revision = "0001"
required_by_code = False
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_processed_events_processed_at"), "processed_events", ["processed_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_processed_events_processed_at"), table_name="processed_events")
