"""query indexes: the feed's visibility branches and subtree roots, prefix search on paths

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index(
        "ix_audit_tenant_visibility",
        "activity_audit_log",
        ["tenant_id", "visibility", "position"],
        unique=False,
    )
    op.create_index(
        "ix_watch_resources_tenant_root", "watch_resources", ["tenant_id", "root_id"], unique=False
    )
    if op.get_bind().dialect.name == "postgresql":
        # LIKE 'prefix%' uses a btree index under any collation only with text_pattern_ops.
        op.drop_index("ix_watch_resources_tenant_path", table_name="watch_resources")
        op.create_index(
            "ix_watch_resources_tenant_path",
            "watch_resources",
            ["tenant_id", "path"],
            unique=False,
            postgresql_ops={"path": "text_pattern_ops"},
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_watch_resources_tenant_path", table_name="watch_resources")
        op.create_index(
            "ix_watch_resources_tenant_path", "watch_resources", ["tenant_id", "path"], unique=False
        )
    op.drop_index("ix_watch_resources_tenant_root", table_name="watch_resources")
    op.drop_index("ix_audit_tenant_visibility", table_name="activity_audit_log")
