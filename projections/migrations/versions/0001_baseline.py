"""baseline: the tables of the last release without migrations

Revision ID: 0001
Revises: (none)
Create Date: 2026-12-03 11:45:31.146223
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "activity_audit_log",
        sa.Column(
            "position",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("activity_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("actor_principal_id", sa.Uuid(), nullable=False),
        sa.Column("resource_id", sa.Uuid(), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=128), nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("delivery_channels", sa.JSON(), nullable=False),
        sa.Column("correlation_id", sa.Uuid(), nullable=False),
        sa.Column("aggregate_id", sa.Uuid(), nullable=False),
        sa.Column("aggregate_version", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("position"),
    )
    with op.batch_alter_table("activity_audit_log", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_tenant_action", ["tenant_id", "action", "position"], unique=False
        )
        batch_op.create_index(
            "ix_audit_tenant_actor", ["tenant_id", "actor_principal_id", "position"], unique=False
        )
        batch_op.create_index(
            "ix_audit_tenant_correlation", ["tenant_id", "correlation_id", "position"], unique=False
        )
        batch_op.create_index("ix_audit_tenant_position", ["tenant_id", "position"], unique=False)
        batch_op.create_index(
            "ix_audit_tenant_resource", ["tenant_id", "resource_id", "position"], unique=False
        )
        batch_op.create_index("ix_audit_tenant_time", ["tenant_id", "occurred_at"], unique=False)
        batch_op.create_index("ux_audit_activity_id", ["activity_id"], unique=True)

    op.create_table(
        "activity_notifications",
        sa.Column("position", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("principal_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("activity_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=128), nullable=False),
        sa.Column("resource_id", sa.Uuid(), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("actor_principal_id", sa.Uuid(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("summary", sa.String(length=512), nullable=False),
        sa.Column("correlation_id", sa.Uuid(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("position", "principal_id"),
    )
    with op.batch_alter_table("activity_notifications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notifications_inbox", ["tenant_id", "principal_id", "position"], unique=False
        )
        batch_op.create_index(
            "ix_notifications_unread", ["tenant_id", "principal_id", "read_at"], unique=False
        )

    op.create_table(
        "activity_outbox",
        sa.Column("position", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("activity_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("correlation_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=128), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("message", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_channels", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("position"),
        sa.UniqueConstraint("activity_id"),
    )
    with op.batch_alter_table("activity_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_activity_outbox_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(
            "ix_activity_outbox_pending_position",
            ["position"],
            unique=False,
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        )

    op.create_table(
        "projection_tracking",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "watch_preferences",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("principal_id", sa.Uuid(), nullable=False),
        sa.Column("filter_mode", sa.String(length=16), nullable=False),
        sa.Column("custom_actions", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "principal_id"),
    )
    op.create_table(
        "watch_resources",
        sa.Column("resource_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("root_id", sa.Uuid(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("resource_id"),
    )
    with op.batch_alter_table("watch_resources", schema=None) as batch_op:
        batch_op.create_index(
            "ix_watch_resources_tenant_owner", ["tenant_id", "owner_id"], unique=False
        )
        batch_op.create_index("ix_watch_resources_tenant_path", ["tenant_id", "path"], unique=False)

    op.create_table(
        "watch_role_bindings",
        sa.Column("binding_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("resource_id", sa.Uuid(), nullable=False),
        sa.Column("principal_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("binding_id"),
    )
    with op.batch_alter_table("watch_role_bindings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_watch_bindings_principal", ["tenant_id", "principal_id"], unique=False
        )
        batch_op.create_index(
            "ix_watch_bindings_resource", ["tenant_id", "resource_id"], unique=False
        )

    op.create_table(
        "watch_subscriptions",
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("principal_id", sa.Uuid(), nullable=False),
        sa.Column("resource_id", sa.Uuid(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("subscription_id"),
    )
    with op.batch_alter_table("watch_subscriptions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_watch_subscriptions_principal", ["tenant_id", "principal_id"], unique=False
        )
        batch_op.create_index(
            "ix_watch_subscriptions_resource", ["tenant_id", "resource_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("watch_subscriptions", schema=None) as batch_op:
        batch_op.drop_index("ix_watch_subscriptions_resource")
        batch_op.drop_index("ix_watch_subscriptions_principal")

    op.drop_table("watch_subscriptions")
    with op.batch_alter_table("watch_role_bindings", schema=None) as batch_op:
        batch_op.drop_index("ix_watch_bindings_resource")
        batch_op.drop_index("ix_watch_bindings_principal")

    op.drop_table("watch_role_bindings")
    with op.batch_alter_table("watch_resources", schema=None) as batch_op:
        batch_op.drop_index("ix_watch_resources_tenant_path")
        batch_op.drop_index("ix_watch_resources_tenant_owner")

    op.drop_table("watch_resources")
    op.drop_table("watch_preferences")
    op.drop_table("projection_tracking")
    with op.batch_alter_table("activity_outbox", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_activity_outbox_pending_position",
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        )
        batch_op.drop_index("ix_activity_outbox_due")

    op.drop_table("activity_outbox")
    with op.batch_alter_table("activity_notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_unread")
        batch_op.drop_index("ix_notifications_inbox")

    op.drop_table("activity_notifications")
    with op.batch_alter_table("activity_audit_log", schema=None) as batch_op:
        batch_op.drop_index("ux_audit_activity_id")
        batch_op.drop_index("ix_audit_tenant_time")
        batch_op.drop_index("ix_audit_tenant_resource")
        batch_op.drop_index("ix_audit_tenant_position")
        batch_op.drop_index("ix_audit_tenant_correlation")
        batch_op.drop_index("ix_audit_tenant_actor")
        batch_op.drop_index("ix_audit_tenant_action")

    op.drop_table("activity_audit_log")
