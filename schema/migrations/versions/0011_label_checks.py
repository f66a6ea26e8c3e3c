"""label_check_runs and label_checks: suspect labels found by `cenr review issues`

Each run records the jobs it checked, how its out-of-sample probabilities were made and
each reviewer's estimated quality; each checked protocol its scored label, consensus,
out-of-sample probabilities, suspect score and the reason in words (worker.review.label_quality).
The portal and `cenr review next` read the newest run of a job.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "label_check_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("jobs", sa.JSON, nullable=False),
        sa.Column("model_version_id", sa.Integer, sa.ForeignKey("model_versions.id"),
                  nullable=False),
        sa.Column("folds", sa.Integer, nullable=False),
        sa.Column("reviewers", sa.JSON, nullable=False),
        sa.Column("notes", sa.JSON, nullable=False),
    )  # fmt: skip
    op.create_table(
        "label_checks",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("label_check_runs.id"), primary_key=True),
        sa.Column("job_item_id", sa.Integer, sa.ForeignKey("job_items.id"), primary_key=True),
        sa.Column("job_id", sa.String(32), sa.ForeignKey("jobs.id"), nullable=False),
        sa.Column("level_code", sa.String(20), nullable=False),
        sa.Column("basis", sa.String(20), nullable=False),
        sa.Column("consensus_code", sa.String(20), nullable=False),
        sa.Column("probabilities", sa.JSON, nullable=False),
        sa.Column("self_confidence", sa.Float, nullable=False),
        sa.Column("quality", sa.Float, nullable=False),
        sa.Column("suspect_score", sa.Float, nullable=False),
        sa.Column("flagged", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_index("ix_label_checks_job_id", "label_checks", ["job_id"])


def downgrade() -> None:
    op.drop_index("ix_label_checks_job_id", "label_checks")
    op.drop_table("label_checks")
    op.drop_table("label_check_runs")
