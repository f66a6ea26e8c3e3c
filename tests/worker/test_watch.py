"""`cenr watch` as a real process: settled files only, done/failed folders, crash recovery."""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from schema.database import open_database, session_scope
from tests.conftest import demo_rows, table_counts, write_export
from tests.worker.cluster import Process, wait_until
from worker.jobs import Submission, create_job, resolve_model
from worker.settings import SizeLimits


def _names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def test_watch_processes_settled_files_and_survives_restarts(
    sqlite_service: str, tmp_path: Path
) -> None:
    """The watcher finishes files an earlier watcher left claimed or stranded, waits for files to
    settle, sorts them into done and failed, and enqueues nothing twice after a restart."""
    inbox = tmp_path / "inbox"
    (inbox / "processing").mkdir(parents=True)
    # A previous watcher died after claiming this file, before submitting it.
    write_export(inbox / "processing" / "claimed.csv", demo_rows(3))
    # ... and this one after committing its job, before queueing it.
    stranded = inbox / "processing" / "stranded.txt"
    stranded.write_text("Partners from the tribal council co-lead the study.")
    engine = open_database(sqlite_service)
    with session_scope(engine) as session:
        create_job(
            session, [Submission(stranded, stranded.name, watch_path=str(stranded))],
            resolve_model(session, None), tmp_path / "out", "watch", {}, SizeLimits(2**20, 2**20),
        )  # fmt: skip
    engine.dispose()

    argv = [
        "watch",
        str(inbox),
        "--out",
        str(tmp_path / "out"),
        "--interval",
        "0.2",
        "--settle",
        "1",
    ]
    watcher = Process(argv, dict(os.environ), tmp_path / "watch.log")
    try:
        watcher.wait_for_output("watching")
        # Written atomically: a temporary name, then a rename.
        (inbox / ".garden.txt.tmp").write_text("The community garden board shares results.")
        os.rename(inbox / ".garden.txt.tmp", inbox / "garden.txt")
        # Written slowly: it must not be claimed until it holds still.
        rows = demo_rows(8, start=40)
        slow = inbox / "slow.csv"
        write_export(tmp_path / "whole.csv", rows)
        whole = (tmp_path / "whole.csv").read_bytes()
        with slow.open("wb") as handle:
            for start in range(0, len(whole), len(whole) // 8 + 1):
                handle.write(whole[start : start + len(whole) // 8 + 1])
                handle.flush()
                time.sleep(0.3)
                assert slow.exists(), "claimed while still being written"
        (inbox / "empty.txt").write_bytes(b"")

        done, failed = inbox / "done", inbox / "failed"
        finished = wait_until(
            lambda: (
                _names(done) == {"claimed.csv", "stranded.txt", "garden.txt", "slow.csv"}
                and _names(failed) == {"empty.txt", "empty.txt.error.txt"}
            ),
            timeout=180,
        )
        assert finished, (_names(done), _names(failed), watcher.output()[-3000:])
        assert "the file is empty" in (failed / "empty.txt.error.txt").read_text()
        assert _names(inbox / "processing") == set()
        jobs = table_counts(sqlite_service)["jobs"]
        assert jobs == 5  # one per file: no file enqueued twice
        watcher.kill()

        watcher = Process(argv, dict(os.environ), tmp_path / "watch2.log")
        watcher.wait_for_output("inbox scanned")  # recovered and made one full pass
        assert table_counts(sqlite_service)["jobs"] == jobs, "a restart enqueued something again"
        assert watcher.alive
    finally:
        watcher.stop()
    with (tmp_path / "whole.csv").open(newline="") as handle:
        expected = len(list(csv.DictReader(handle)))  # fields span lines
    engine = create_engine(sqlite_service)
    with engine.connect() as connection:
        rows_done = connection.execute(
            text(
                "SELECT count(*) FROM job_items i JOIN source_files f ON f.id = i.source_file_id "
                "WHERE f.path = 'slow.csv' AND i.status = 'done'"
            )
        ).scalar_one()
    engine.dispose()
    assert rows_done == expected == 8, "the slowly written file was read whole"


@pytest.mark.parametrize("name", ["report.pdf", "copy of report.pdf"])
def test_free_name_never_overwrites(tmp_path: Path, name: str) -> None:
    """A free name skips names already taken by a file or by a file's error note."""
    from worker.watch import free_name

    (tmp_path / name).write_text("x")
    (tmp_path / (Path(name).stem + "-1.pdf.error.txt")).write_text("x")
    assert free_name(tmp_path, name).name == Path(name).stem + "-2.pdf"
