"""label_events: the history of every stored level

Each import, change or removal of a review and each adjudication or change of one is a
row: when, who (and through which channel: the portal or the command line), which job
and protocol, the level before and after, the rationale and the workbook's base name.
The table is append-only: triggers refuse an UPDATE or DELETE (and, on PostgreSQL, a
TRUNCATE). The levels stored before this get one event each (``imported`` for a review,
``adjudicated`` for an adjudication) at the time they were imported, by their stored
reviewer, through channel ``backfill``; what they replaced before then is not known.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

REFUSAL = "label_events is append-only: its rows are never updated or deleted"


def upgrade() -> None:
    events = op.create_table(
        "label_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(300), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("job_id", sa.String(32), sa.ForeignKey("jobs.id"), nullable=False, index=True),
        sa.Column("job_item_id", sa.Integer, sa.ForeignKey("job_items.id"), nullable=False,
                  index=True),
        sa.Column("protocol", sa.String(500), nullable=False),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("from_level", sa.String(20), nullable=True),
        sa.Column("to_level", sa.String(20), nullable=True),
        sa.Column("rationale", sa.Text, nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
    )  # fmt: skip
    assert events is not None
    _backfill(events)
    _refuse_changes()


def _decisions(name: str) -> sa.TableClause:
    return sa.table(
        name,
        sa.column("job_id", sa.String), sa.column("job_item_id", sa.Integer),
        sa.column("reviewer", sa.String), sa.column("level_code", sa.String),
        sa.column("rationale", sa.Text), sa.column("source", sa.String),
        sa.column("imported_at", sa.DateTime(timezone=True)),
    )  # fmt: skip


def _base_name(source: str) -> str:
    """A stored source's file name: the server's folders (either separator) left out."""
    return re.split(r"[\\/]", source or "")[-1][:300]


def _backfill(events: sa.Table) -> None:
    """One event per review (``imported``) and adjudication (``adjudicated``) stored now,
    oldest first."""
    items = sa.table("job_items", sa.column("id", sa.Integer), sa.column("external_id", sa.String))
    parts = []
    for name, action in (("reviews", "imported"), ("adjudications", "adjudicated")):
        table = _decisions(name)
        parts.append(
            sa.select(
                sa.literal(action).label("action"), table.c.job_id, table.c.job_item_id,
                items.c.external_id, table.c.reviewer, table.c.level_code, table.c.rationale,
                table.c.source, table.c.imported_at,
            ).join(items, items.c.id == table.c.job_item_id)
        )  # fmt: skip
    union = sa.union_all(*parts).subquery()
    query = sa.select(union).order_by(union.c.imported_at, union.c.action, union.c.job_item_id)
    connection = op.get_bind()
    for rows in connection.execute(query).partitions(1000):
        connection.execute(
            events.insert(),
            [
                {"at": r.imported_at, "action": r.action, "actor": r.reviewer,
                 "channel": "backfill", "job_id": r.job_id, "job_item_id": r.job_item_id,
                 "protocol": r.external_id, "reviewer": r.reviewer, "from_level": None,
                 "to_level": r.level_code, "rationale": r.rationale or "",
                 "source": _base_name(r.source)}
                for r in rows
            ],
        )  # fmt: skip


def _refuse_changes() -> None:
    """Triggers that make the table append-only in the database itself."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION label_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '{REFUSAL}'; END $$
            """
        )
        op.execute(
            "CREATE TRIGGER label_events_no_change BEFORE UPDATE OR DELETE ON label_events "
            "FOR EACH ROW EXECUTE FUNCTION label_events_append_only()"
        )
        op.execute(
            "CREATE TRIGGER label_events_no_truncate BEFORE TRUNCATE ON label_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION label_events_append_only()"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER label_events_no_{verb.lower()} BEFORE {verb} ON label_events "
            f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
        )


def downgrade() -> None:
    op.drop_table("label_events")  # its triggers go with it
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION label_events_append_only()")
