"""The model store: a host without the model's folder fetches it from the database."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from cenr.cli import main
from tests.conftest import demo_rows, write_export


def _digests(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file()
    }


def test_a_host_without_the_model_fetches_it_from_the_store(
    postgres_service: str, trained_home: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """A host without the model fetches it from the store, replaces a damaged local copy, and
    refuses a corrupt stored file without writing it."""
    other_host = tmp_path / "other-host"
    monkeypatch.setenv("CENR_HOME", str(other_host))  # same database, no model folder
    write_export(tmp_path / "inbox" / "export.csv", demo_rows(3))
    assert main(["run", str(tmp_path / "inbox"), "--out", str(tmp_path / "out")]) == 0
    fetched = other_host / "models" / "tiny"
    assert _digests(fetched) == _digests(trained_home / "models" / "tiny")

    (fetched / "model.keras").write_bytes(b"tampered")  # a stale or damaged cache
    assert main(["run", str(tmp_path / "inbox"), "--out", str(tmp_path / "out2")]) == 0
    assert _digests(fetched) == _digests(trained_home / "models" / "tiny"), "replaced"
    assert not [p for p in (other_host / "models").iterdir() if p.name.startswith(".")]

    engine = create_engine(postgres_service)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE model_files SET content = :c WHERE name = 'model.keras'"), {"c": b"x"}
        )
    engine.dispose()
    capsys.readouterr()
    (fetched / "model.keras").unlink()
    assert main(["run", str(tmp_path / "inbox"), "--out", str(tmp_path / "out3")]) == 1
    assert "model tiny: model.keras in the store is corrupt" in capsys.readouterr().err
    assert not (fetched / "model.keras").exists()


def test_register_fills_the_store_for_versions_registered_before_it(
    sqlite_service: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Registering a model that predates the store adds its files to the store."""
    engine = create_engine(sqlite_service)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM model_files"))
    assert main(["register", "tiny"]) == 0
    assert "already registered (5 file(s) added to the store)" in capsys.readouterr().out
    with engine.connect() as connection:
        names = connection.execute(text("SELECT name FROM model_files ORDER BY name")).scalars()
        assert list(names) == [
            "codebook.json",
            "config.json",
            "metrics.json",
            "model.keras",
            "vocabulary.json",
        ]
    engine.dispose()
