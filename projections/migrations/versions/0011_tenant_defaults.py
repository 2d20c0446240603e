"""tenant defaults: a tenant's default preferences and mandatory categories; muted actions

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "watch_tenant_preferences",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("filter_mode", sa.String(length=16), nullable=False),
        sa.Column("custom_actions", sa.JSON(), nullable=False),
        sa.Column("muted_actions", sa.JSON(), nullable=False),
        sa.Column("mandatory_categories", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id"),
    )
    # Preferences set before muting existed mute nothing.
    op.add_column(
        "watch_preferences",
        sa.Column("muted_actions", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
    )


def downgrade() -> None:
    with op.batch_alter_table("watch_preferences") as batch:
        batch.drop_column("muted_actions")
    op.drop_table("watch_tenant_preferences")
