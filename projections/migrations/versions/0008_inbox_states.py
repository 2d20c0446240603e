"""inbox states: seen_at, archived_at, snoozed_until, and one partial index per listed state

Rows read before this revision count as seen: reading implies seeing.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

TABLE = "activity_notifications"
PARTIAL_INDEXES = (
    ("ix_notifications_unread", "read_at IS NULL AND archived_at IS NULL"),
    ("ix_notifications_unseen", "seen_at IS NULL AND archived_at IS NULL"),
    ("ix_notifications_active", "archived_at IS NULL"),
    ("ix_notifications_archived", "archived_at IS NOT NULL"),
    ("ix_notifications_snoozed", "snoozed_until IS NOT NULL AND archived_at IS NULL"),
)


def upgrade() -> None:
    for column in ("seen_at", "archived_at", "snoozed_until"):
        op.add_column(TABLE, sa.Column(column, sa.DateTime(timezone=True), nullable=True))
    table = sa.table(TABLE, sa.column("read_at"), sa.column("seen_at"))
    op.execute(table.update().where(table.c.read_at.is_not(None)).values(seen_at=table.c.read_at))
    op.drop_index("ix_notifications_unread", table_name=TABLE)
    for name, where in PARTIAL_INDEXES:
        op.create_index(
            name,
            TABLE,
            ["tenant_id", "principal_id", "position"],
            unique=False,
            postgresql_where=sa.text(where),
            sqlite_where=sa.text(where),
        )


def downgrade() -> None:
    for name, _ in PARTIAL_INDEXES:
        op.drop_index(name, table_name=TABLE)
    op.create_index(
        "ix_notifications_unread", TABLE, ["tenant_id", "principal_id", "read_at"], unique=False
    )
    with op.batch_alter_table(TABLE) as batch:
        for column in ("snoozed_until", "archived_at", "seen_at"):
            batch.drop_column(column)
