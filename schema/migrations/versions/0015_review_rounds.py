"""review_rounds: a job's current review round, dealt from the portal

The coordinator deals a round on the job page (or `POST /api/jobs/{job}/rounds`): the
reviewers, the share all of them review, and whether it is blind. Each reviewer's
workbook download is then their part of the round (blind: the protocol text alone,
nothing the model said). One row per job; dealing again replaces it.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_rounds",
        sa.Column("job_id", sa.String(32), sa.ForeignKey("jobs.id"), primary_key=True),
        sa.Column("reviewers", sa.JSON, nullable=False),
        sa.Column("overlap", sa.Float, nullable=False),
        sa.Column("blind", sa.Boolean, nullable=False),
        sa.Column("dealt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dealt_by", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("review_rounds")
