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
DEMO_CSV = ROOT / "demo" / "protocols.csv"
DEMO_COLUMNS = [
    "--text-column", "StudyTitle", "--text-column", "AimsGoals", "--text-column", "Background",
    "--text-column", "StudyDesign", "--text-column", "Partners",
    "--label-column", "Level", "--id-column", "Protocol ID",
]  # fmt: skip
PG_ADMIN = "host=127.0.0.1 port=5432 dbname=test user=postgres"


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
    """A CENR_HOME holding model 'tiny', trained once on the demo set through the CLI."""
    from cenr.cli import main

    home = tmp_path_factory.mktemp("trained") / "home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CENR_HOME", str(home))
        patch.delenv("CENR_DATABASE_URL", raising=False)
        args = ["train", str(DEMO_CSV), *DEMO_COLUMNS, "--epochs", "6", "--name", "tiny"]
        assert main(args) == 0
    return home


@pytest.fixture
def use_trained(trained_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CENR_HOME", str(trained_home))
    monkeypatch.delenv("CENR_DATABASE_URL", raising=False)
    return trained_home


def last_json_line(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])
