"""reads: the time index carries the position (a window's positions from the index alone)

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.drop_index("ix_audit_tenant_time", table_name="activity_audit_log")
    op.create_index(
        "ix_audit_tenant_time",
        "activity_audit_log",
        ["tenant_id", "occurred_at", "position"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_audit_tenant_time", table_name="activity_audit_log")
    op.create_index(
        "ix_audit_tenant_time", "activity_audit_log", ["tenant_id", "occurred_at"], unique=False
    )
