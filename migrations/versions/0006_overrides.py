"""classification: the subject a ticket was classified on, and agents' priority overrides

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(
            sa.Column("subject", sa.String(length=255), server_default="", nullable=False)
        )
    op.create_table(
        "priority_overrides",
        sa.Column("ticket_id", sa.String(length=32), nullable=False),
        sa.Column("ticket_number", sa.String(length=32), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("vendor", sa.String(length=64), nullable=False),
        sa.Column("classified_priority", sa.String(length=32), nullable=False),
        sa.Column("agent_priority", sa.String(length=32), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ticket_id"),
    )
    op.create_index("ix_priority_overrides_changed_at", "priority_overrides", ["changed_at"])


def downgrade() -> None:
    op.drop_index("ix_priority_overrides_changed_at", table_name="priority_overrides")
    op.drop_table("priority_overrides")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("subject")
