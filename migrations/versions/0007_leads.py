"""leads' tools: per-ticket figures for the compliance report, and the policies tickets were
computed with (so a recompute can say what changed)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(
            sa.Column("account_id", sa.String(length=32), server_default="", nullable=False)
        )
        batch.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("response_state", sa.String(length=16), server_default="", nullable=False)
        )
        batch.add_column(
            sa.Column("resolution_state", sa.String(length=16), server_default="", nullable=False)
        )
        batch.add_column(sa.Column("response_business_s", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("resolution_business_s", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("paused_s", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("eta_changes", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "policy_versions",
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version"),
    )


def downgrade() -> None:
    op.drop_table("policy_versions")
    with op.batch_alter_table("tickets") as batch:
        for column in (
            "eta_changes",
            "paused_s",
            "resolution_business_s",
            "response_business_s",
            "resolution_state",
            "response_state",
            "closed_at",
            "account_id",
        ):
            batch.drop_column(column)
