"""Backpressure: with more work waiting than CENR_MAX_QUEUED, the command line and the
portal refuse new work with a clear message, and the watcher leaves new files in its
inbox until the queue has room; nothing is lost. (The portal: tests/portal/test_busy.py.)"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cenr.cli import main
from tests.conftest import table_counts
from tests.worker.cluster import Process, finish_job, wait_until, waiting_job


def test_submissions_are_refused_while_the_queue_is_full(
    sqlite_service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """A run is refused without creating a job while the queue is full or the disk is short of
    space, and goes through once the workers have caught up."""
    job = waiting_job(sqlite_service, tmp_path / "earlier", 3)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "new.txt").write_text("The tribal council co-leads the study.")
    run = ["run", str(inbox), "--out", str(tmp_path / "out")]
    jobs_before = table_counts(sqlite_service)["jobs"]

    monkeypatch.setenv("CENR_MAX_QUEUED", "3")
    assert main(run) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        "cenr: error: the queue is full: 3 protocol(s) are waiting, the bound is 3 "
        "(CENR_MAX_QUEUED); nothing was submitted, try again once the workers have caught "
        "up (`cenr status`)"
    )
    assert table_counts(sqlite_service)["jobs"] == jobs_before

    monkeypatch.setenv("CENR_MAX_QUEUED", "0")  # no bound, but no disk to spare either
    monkeypatch.setenv("CENR_MIN_FREE_MB", str(10**12))
    assert main(run) == 1
    assert "MB free, under 1000000000000 MB (CENR_MIN_FREE_MB)" in capsys.readouterr().err
    assert table_counts(sqlite_service)["jobs"] == jobs_before

    monkeypatch.setenv("CENR_MIN_FREE_MB", "1")
    monkeypatch.setenv("CENR_MAX_QUEUED", "3")
    finish_job(sqlite_service, job)  # the workers caught up
    assert main(run) == 0
    assert "1 done, 0 failed" in capsys.readouterr().out


def test_the_watcher_leaves_new_files_in_the_inbox_until_there_is_room(
    sqlite_service: str, tmp_path: Path
) -> None:
    """While the queue is full the watcher leaves a new file in the inbox and says so once, then
    processes it when the queue has room again."""
    job = waiting_job(sqlite_service, tmp_path / "earlier", 2)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    argv = ["watch", str(inbox), "--out", str(tmp_path / "out"), "--interval", "0.2",
            "--settle", "0.5"]  # fmt: skip
    watcher = Process(argv, {**os.environ, "CENR_MAX_QUEUED": "2"}, tmp_path / "watch.log")
    try:
        watcher.wait_for_output("watching")
        (inbox / "new.txt").write_text("Parents on the advisory board shaped the aims.")
        watcher.wait_for_output("new files wait in", timeout=30)
        assert "the queue is full: 2 protocol(s) are waiting, the bound is 2" in watcher.output()
        wait_until(lambda: False, 2)  # several polls while full: the file stays put
        assert (inbox / "new.txt").is_file()
        assert watcher.output().count("new files wait in") == 1, "logged once, not per poll"

        finish_job(sqlite_service, job)
        assert wait_until(lambda: (inbox / "done" / "new.txt").is_file(), 120), watcher.output()
        assert "the queue has room again" in watcher.output()
    finally:
        watcher.stop()
