"""user_sessions, sign_in_failures and job_assignments: portal sessions kept on the
server (so logout, a password reset and `cenr users disable` end them), failed sign-ins
(the throttle's counts and the attempts' log), and which reviewer may see which job.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_why", sa.String(40), nullable=True),
        sa.Column("login_token", sa.String(64), nullable=False, unique=True),
        sa.Column("client", sa.String(100), nullable=False),
    )
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("username", sa.String(100), nullable=False, index=True),
        sa.Column("client", sa.String(100), nullable=False, index=True),
    )
    op.create_table(
        "job_assignments",
        sa.Column("job_id", sa.String(32), sa.ForeignKey("jobs.id"), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True,
                  index=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_by", sa.String(200), nullable=False),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("job_assignments")
    op.drop_table("sign_in_failures")
    op.drop_table("user_sessions")
