"""reviews.blind: whether a reviewer's level came from a blind workbook

A blind workbook (`cenr export JOB --xlsx FILE --reviewers ... --blind`) shows the
protocol text alone, nothing the model said; `cenr review agreement` sets the levels
given blind beside those given with the model's level in view. Levels stored before
this came from sighted workbooks: false.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reviews") as batch:
        batch.add_column(sa.Column("blind", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("reviews") as batch:
        batch.drop_column("blind")
