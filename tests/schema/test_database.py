"""Migrations on SQLite and PostgreSQL; a database that is behind is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from schema.database import head_revision, make_engine, open_database, session_scope, upgrade
from schema.errors import DatabaseError
from schema.tables import ModelVersion


def _register(url: str) -> None:
    engine = open_database(url)
    with session_scope(engine) as session:
        session.add(ModelVersion(
            name="v1", attention="additive", created_at=datetime.now(UTC), path="/m/v1",
            data_fingerprint="f" * 64, n_training=10, accuracy=0.5, macro_f1=0.4,
            temperature=1.2, metrics={"accuracy": 0.5},
        ))  # fmt: skip
    with session_scope(engine) as session:
        row = session.scalars(select(ModelVersion)).one()
        assert (row.name, row.metrics) == ("v1", {"accuracy": 0.5})
    engine.dispose()


def test_new_embedded_sqlite_is_created_and_migrated(tmp_path: Path) -> None:
    """The default SQLite file is created at head on first use."""
    url = f"sqlite:///{tmp_path / 'sub' / 'cenr.sqlite3'}"
    _register(url)
    assert "model_versions" in inspect(make_engine(url)).get_table_names()


def test_postgres_migrates_and_stores_model_versions(postgres_url: str) -> None:
    """`cenr db upgrade` works on PostgreSQL and model versions round-trip."""
    upgrade(postgres_url)
    _register(postgres_url)


def test_database_behind_the_code_is_refused_with_the_fix(postgres_url: str) -> None:
    """An existing database without the migrations names `cenr db upgrade`."""
    with pytest.raises(DatabaseError, match=r"schema is at nothing.*cenr db upgrade"):
        open_database(postgres_url)
    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    engine.dispose()
    with pytest.raises(DatabaseError, match=f"at 0000, the code needs {head_revision()}"):
        open_database(postgres_url)


def test_unreachable_database_is_a_clear_error() -> None:
    """A PostgreSQL URL nobody answers gives DatabaseError, with no password shown."""
    url = "postgresql+psycopg://u:secret@127.0.0.1:1/none?connect_timeout=2"
    with pytest.raises(DatabaseError, match="cannot reach the database") as info:
        open_database(url)
    assert "secret" not in str(info.value)


def test_postgres_sessions_probe_for_dead_peers_and_keep_the_users_options(
    postgres_url: str,
) -> None:
    """make_engine asks the server to drop a silent client within ~30 s, so a worker host
    cut off mid-transaction does not hold its row locks for hours (one is cut off in
    tests/deploy/test_many_hosts.py), and keeps `options` from the URL."""
    joiner = "&" if "?" in postgres_url else "?"
    engine = make_engine(f"{postgres_url}{joiner}options=-c%20statement_timeout%3D5000")
    try:
        with engine.connect() as connection:
            shown = {
                name: connection.execute(text(f"SHOW {name}")).scalar()
                for name in ("tcp_keepalives_idle", "tcp_keepalives_count", "tcp_user_timeout",
                             "statement_timeout")
            }  # fmt: skip
    finally:
        engine.dispose()
    assert shown == {
        "tcp_keepalives_idle": "10",
        "tcp_keepalives_count": "3",
        "tcp_user_timeout": "30000",  # milliseconds
        "statement_timeout": "5s",
    }
