"""write-back: classification evidence and comment evidence on tickets, waits and refused fields

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evidence", sa.Text(), server_default="[]", nullable=False))
        batch_op.add_column(
            sa.Column("comment_attempts", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("comment_id", sa.String(length=32), server_default="", nullable=False)
        )
    with op.batch_alter_table("inbox_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("waits", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("waits", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("refused", sa.Text(), server_default="{}", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("refused")
        batch_op.drop_column("waits")
    with op.batch_alter_table("inbox_events", schema=None) as batch_op:
        batch_op.drop_column("waits")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("comment_id")
        batch_op.drop_column("comment_attempts")
        batch_op.drop_column("evidence")
