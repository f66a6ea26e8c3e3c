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


def test_migration_0010_gives_earlier_predictions_their_shares_by_field(postgres_url: str) -> None:
    """Predictions stored before evidence by field get each field's share from their token
    weights: hand-computed 0.3 + 0.3 of 0.8 for Partners, 0.2 of 0.8 for Aims; one whose
    tokens carry no weight gets 0 for each field rather than a division by zero."""
    from alembic import command

    from schema.database import alembic_config

    command.upgrade(alembic_config(postgres_url), "0009")
    engine = make_engine(postgres_url)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO model_versions (id, name, attention, created_at, path,"
                " data_fingerprint, n_training, temperature, metrics)"
                " VALUES (1, 'v1', 'additive', :now, '/m', 'f', 1, 1.0, '{}')"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO documents (id, content_hash, external_id, fields, text, n_chars,"
                " created_at) VALUES (1, 'a', 'P-1', '{}', '', 0, :now),"
                " (2, 'b', 'P-2', '{}', '', 0, :now)"
            ),
            {"now": now},
        )
        for pid in (1, 2):
            connection.execute(
                text(
                    "INSERT INTO predictions (id, document_id, model_version_id, level_index,"
                    " level_code, probabilities, confidence, n_tokens, tokens_cut, top_tokens,"
                    " created_at) VALUES (:pid, :pid, 1, 5, '5', '[]', 0.9, 3, 0, '[]', :now)"
                ),
                {"pid": pid, "now": now},
            )
        rows = [
            (1, 0, "Partners", 0.3),
            (1, 1, "Partners", 0.3),
            (1, 2, "Aims", 0.2),
            (2, 0, "Aims", 0.0),
            (2, 1, "Partners", 0.0),
        ]
        for pid, position, field, weight in rows:
            connection.execute(
                text(
                    "INSERT INTO token_weights (prediction_id, position, token, form, field,"
                    " char_start, char_end, weight) VALUES (:pid, :pos, 'w', 'w', :field, 0, 1, :w)"
                ),
                {"pid": pid, "pos": position, "field": field, "w": weight},
            )
    upgrade(postgres_url)
    with engine.connect() as connection:
        shares = connection.execute(
            text("SELECT prediction_id, field, share FROM evidence_fields ORDER BY 1, 2")
        ).all()
    engine.dispose()
    assert [(p, f) for p, f, _ in shares] == [(1, "Aims"), (1, "Partners"), (2, "Aims"),
                                              (2, "Partners")]  # fmt: skip
    assert [s for _, _, s in shares] == pytest.approx([0.25, 0.75, 0.0, 0.0])
