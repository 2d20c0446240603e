"""inbox resource index: a principal's notifications about one resource, in position order

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 18:30:00
"""

from __future__ import annotations

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index(
        "ix_notifications_resource",
        "activity_notifications",
        ["tenant_id", "principal_id", "resource_id", "position"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_resource", table_name="activity_notifications")
