"""digests: digest rules, digests and their members; the inbox's kind and digest columns

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "activity_digest_rules",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("principal_id", sa.Uuid(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "principal_id"),
    )
    op.create_table(
        "activity_digests",
        sa.Column("digest_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("principal_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("pattern", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=128), nullable=False),
        sa.Column("correlation_id", sa.Uuid(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("actors", sa.JSON(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("digest_id"),
    )
    op.create_index(
        "ix_digests_inbox", "activity_digests", ["tenant_id", "principal_id", "position"]
    )
    op.create_table(
        "activity_digest_members",
        sa.Column("digest_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("principal_id", sa.Uuid(), nullable=False),
        sa.Column("activity_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=128), nullable=False),
        sa.Column("resource_id", sa.Uuid(), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("actor_principal_id", sa.Uuid(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("summary", sa.String(length=512), nullable=False),
        sa.Column("correlation_id", sa.Uuid(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest_id", "position"),
    )
    with op.batch_alter_table("activity_notifications") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="activity")
        )
        batch.add_column(sa.Column("digest", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("activity_notifications") as batch:
        batch.drop_column("digest")
        batch.drop_column("kind")
    op.drop_table("activity_digest_members")
    op.drop_index("ix_digests_inbox", table_name="activity_digests")
    op.drop_table("activity_digests")
    op.drop_table("activity_digest_rules")
