"""evidence_fields and evidence_passages: each prediction's evidence by field

For every prediction, each field's share of the heat-map's weight and the sentences
around its strongest tokens (schema.evidence), stored when it is classified so that SQL
can ask which field carries the evidence for a level. Predictions stored before this get
their shares from their token weights here; their passages are computed when exported.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evidence_fields",
        sa.Column("prediction_id", sa.Integer, sa.ForeignKey("predictions.id"), primary_key=True),
        sa.Column("field", sa.Text, primary_key=True),
        sa.Column("share", sa.Float, nullable=False),
    )
    op.create_table(
        "evidence_passages",
        sa.Column("prediction_id", sa.Integer, sa.ForeignKey("predictions.id"), primary_key=True),
        sa.Column("rank", sa.Integer, primary_key=True),
        sa.Column("field", sa.Text, nullable=False),
        sa.Column("char_start", sa.Integer, nullable=False),
        sa.Column("char_end", sa.Integer, nullable=False),
        sa.Column("weight", sa.Float, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.execute(
        """
        INSERT INTO evidence_fields (prediction_id, field, share)
        SELECT t.prediction_id, t.field,
               CASE WHEN totals.total > 0 THEN SUM(t.weight) / totals.total ELSE 0 END
        FROM token_weights t
        JOIN (SELECT prediction_id, SUM(weight) AS total FROM token_weights
              GROUP BY prediction_id) totals ON totals.prediction_id = t.prediction_id
        GROUP BY t.prediction_id, t.field, totals.total
        """
    )


def downgrade() -> None:
    op.drop_table("evidence_passages")
    op.drop_table("evidence_fields")
