"""Migration 0013 on PostgreSQL: the levels stored before the label history get one event
each, and the history refuses to be rewritten."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from schema.database import alembic_config, make_engine, upgrade

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _a_reviewed_job(connection: Connection) -> None:
    """Job J1 with protocols P-1 and P-2; ana and ben reviewed P-1 (their workbooks at
    server paths), ana P-2; cy adjudicated P-1."""
    statements = [
        "INSERT INTO model_versions (id, name, attention, created_at, path, data_fingerprint,"
        " n_training, temperature, metrics) VALUES (1, 'v1', 'additive', :t, '/m', 'f', 1, 1.0,"
        " '{}')",
        "INSERT INTO jobs (id, created_at, model_version_id, status, origin, out_dir, options)"
        " VALUES ('J1', :t, 1, 'done', 'cli', '/srv/out', '{}')",
        "INSERT INTO source_files (id, job_id, path, size, status, n_documents)"
        " VALUES (1, 'J1', 'export.csv', 10, 'done', 2)",
        "INSERT INTO documents (id, content_hash, external_id, fields, text, n_chars, created_at)"
        " VALUES (1, 'a', 'P-1', '{}', '', 0, :t), (2, 'b', 'P-2', '{}', '', 0, :t)",
        "INSERT INTO job_items (id, job_id, source_file_id, position, external_id, document_id,"
        " status) VALUES (1, 'J1', 1, 1, 'P-1', 1, 'done'), (2, 'J1', 1, 2, 'P-2', 2, 'done')",
    ]
    for statement in statements:
        connection.execute(text(statement), {"t": T0})
    decisions = [
        ("reviews", 1, "ana", "2", "partners named", "/srv/cenr/uploads/tmpa1/ana.xlsx", 3),
        ("reviews", 1, "ben", "4", "", "C:\\Users\\ben\\Desktop\\ben (2).xlsx", 1),
        ("reviews", 2, "ana", "0", "", "ana.xlsx", 2),
        ("adjudications", 1, "cy", "3", "talked it over", "/home/cy/discussion.xlsx", 5),
    ]
    for table, item, who, level, rationale, source, minutes in decisions:
        connection.execute(
            text(
                f"INSERT INTO {table} (job_id, job_item_id, document_id, reviewer, level_code,"  # noqa: S608 (the test's own names)
                " rationale, source, imported_at) VALUES ('J1', :item, :item, :who, :level,"
                " :rationale, :source, :at)"
            ),
            {"item": item, "who": who, "level": level, "rationale": rationale,
             "source": source, "at": T0 + timedelta(minutes=minutes)},
        )  # fmt: skip


@pytest.fixture
def backfilled(postgres_url: str) -> Iterator[Engine]:
    """A database at 0012 with levels stored (:func:`_a_reviewed_job`), then upgraded."""
    command.upgrade(alembic_config(postgres_url), "0012")
    engine = make_engine(postgres_url)
    with engine.begin() as connection:
        _a_reviewed_job(connection)
    upgrade(postgres_url)
    yield engine
    engine.dispose()


def test_migration_0013_backfills_one_event_per_stored_level(backfilled: Engine) -> None:
    """Each review becomes an `imported` event and each adjudication an `adjudicated` one,
    oldest first, by the stored reviewer at the time it was imported, from no level, with
    the workbook's base name (a Windows path's too) and channel `backfill`."""
    columns = ("at, action, actor, channel, job_id, job_item_id, protocol, reviewer, "
               "from_level, to_level, rationale, source")  # fmt: skip
    with backfilled.connect() as connection:
        events = connection.execute(
            text(f"SELECT {columns} FROM label_events ORDER BY id")  # noqa: S608 (constant)
        ).all()
    assert [tuple(e[1:]) for e in events] == [
        ("imported", "ben", "backfill", "J1", 1, "P-1", "ben", None, "4", "", "ben (2).xlsx"),
        ("imported", "ana", "backfill", "J1", 2, "P-2", "ana", None, "0", "", "ana.xlsx"),
        ("imported", "ana", "backfill", "J1", 1, "P-1", "ana", None, "2", "partners named",
         "ana.xlsx"),
        ("adjudicated", "cy", "backfill", "J1", 1, "P-1", "cy", None, "3", "talked it over",
         "discussion.xlsx"),
    ]  # fmt: skip
    assert [e[0] for e in events] == [T0 + timedelta(minutes=m) for m in (1, 2, 3, 5)]


def test_label_events_cannot_be_updated_deleted_or_truncated(
    backfilled: Engine, postgres_url: str
) -> None:
    """The database itself keeps the history append-only; downgrading drops it cleanly."""
    for statement in (
        "UPDATE label_events SET to_level = '5'",
        "DELETE FROM label_events",
        "TRUNCATE label_events",
    ):
        with pytest.raises(DBAPIError, match="append-only"), backfilled.begin() as connection:
            connection.execute(text(statement))
    with backfilled.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM label_events")).scalar() == 4
    backfilled.dispose()
    command.downgrade(alembic_config(postgres_url), "0012")
    upgrade(postgres_url)  # the trigger function went with the table: it can be made again
