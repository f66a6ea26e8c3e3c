"""Shared fixtures: an isolated CENR_HOME, a fresh PostgreSQL database, a trained model.

PostgreSQL is used for real; when it is unreachable the tests fail with a message
(``make services`` starts it) rather than skip.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parent.parent
# The demo generator's short profile (`python demo/make_protocols.py --profile short`):
# the demo's kinds of protocols with a few sentences of boilerplate, so models train fast.
PROTOCOLS_CSV = ROOT / "tests" / "data" / "protocols.csv"
DEMO_COLUMNS = [
    "--text-column", "StudyTitle", "--text-column", "AimsGoals", "--text-column", "Background",
    "--text-column", "StudyDesign", "--text-column", "Partners",
    "--label-column", "Level", "--id-column", "Protocol ID",
]  # fmt: skip
PG_ADMIN = "host=127.0.0.1 port=5432 dbname=test user=postgres"
# `make check` runs the tests that need none of these: a trained model, a database
# server, a broker, a browser or processes of their own. Everything else is `quick`.
HEAVY_FIXTURES = frozenset({
    "trained_home", "use_trained", "sqlite_service", "postgres_service", "postgres_url",
    "portal", "full_portal", "browser", "cluster", "broker_url", "private_redis",
    "private_db", "compose", "compose_backends", "hosts", "db_host", "demo_run", "encoder",
    "exported", "outputs", "bundle", "full_disk", "stalled",
})  # fmt: skip
HEAVY_MODULES = frozenset({"tests.classifier.test_training"})  # train models themselves


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``quick`` every test that needs nothing heavy (see :data:`HEAVY_FIXTURES`)."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        module = getattr(getattr(item, "module", None), "__name__", "")
        if (
            HEAVY_FIXTURES.isdisjoint(fixtures)
            and module not in HEAVY_MODULES
            and item.get_closest_marker("slow") is None
        ):
            item.add_marker(pytest.mark.quick)


@pytest.fixture
def cenr_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private data folder with the embedded SQLite default."""
    monkeypatch.setenv("CENR_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CENR_DATABASE_URL", raising=False)
    monkeypatch.delenv("CENR_CODEBOOK", raising=False)
    return tmp_path / "home"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards."""
    name = f"cenr_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is required (run `make services`): {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A CENR_HOME holding model 'tiny', trained once on the test corpus through the CLI."""
    from cenr.cli import main

    home = tmp_path_factory.mktemp("trained") / "home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CENR_HOME", str(home))
        patch.delenv("CENR_DATABASE_URL", raising=False)
        args = ["train", str(PROTOCOLS_CSV), *DEMO_COLUMNS, "--epochs", "6", "--name", "tiny"]
        assert main(args) == 0
    return home


@pytest.fixture
def use_trained(trained_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CENR_HOME", str(trained_home))
    monkeypatch.delenv("CENR_DATABASE_URL", raising=False)
    return trained_home


def last_json_line(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


@pytest.fixture
def sqlite_service(trained_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Model 'tiny' registered in a fresh SQLite database of this test's own, no broker."""
    from cenr.cli import main

    url = f"sqlite:///{tmp_path / 'service.sqlite3'}"
    monkeypatch.setenv("CENR_HOME", str(trained_home))
    monkeypatch.setenv("CENR_DATABASE_URL", url)
    monkeypatch.delenv("CENR_BROKER_URL", raising=False)
    assert main(["register", "tiny"]) == 0
    return url


@pytest.fixture
def postgres_service(trained_home: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Model 'tiny' registered in a fresh, migrated PostgreSQL database."""
    from cenr.cli import main

    monkeypatch.setenv("CENR_HOME", str(trained_home))
    monkeypatch.setenv("CENR_DATABASE_URL", postgres_url)
    monkeypatch.delenv("CENR_BROKER_URL", raising=False)
    assert main(["db", "upgrade"]) == 0
    assert main(["register", "tiny"]) == 0
    return postgres_url


def demo_rows(n: int, start: int = 0) -> list[dict[str, str]]:
    """``n`` protocols of the test corpus without their Level column."""
    import csv

    with PROTOCOLS_CSV.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))[start : start + n]
    return [{k: v for k, v in row.items() if k != "Level"} for row in rows]


def write_export(path: Path, rows: list[dict[str, str]]) -> Path:
    """An IRB-style CSV export of ``rows``."""
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def table_counts(url: str) -> dict[str, int]:
    """Rows per service table, read straight from the database."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    tables = ("jobs", "source_files", "documents", "job_items", "predictions", "token_weights")
    with engine.connect() as connection:
        counts = {
            t: connection.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()  # noqa: S608
            for t in tables
        }
        counts["tokens_expected"] = connection.execute(
            text("SELECT coalesce(sum(n_tokens), 0) FROM predictions")
        ).scalar_one()
    engine.dispose()
    return counts
