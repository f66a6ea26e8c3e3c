"""The inbox takes only whole files: a copy that pauses, stalls or is appended to after the
watcher took it ends with every protocol of the final file classified exactly once.

The finding these reproduce: a CSV copied in two halves 4 s apart was taken after 1 s of
stillness, became a job of 26 of its 48 protocols (row 27 cut mid-text), and went to
``done/`` whole while 22 protocols were never classified.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from schema.database import open_database, session_scope
from schema.states import ItemState, JobState
from schema.tables import Job, JobItem, Prediction, SourceFile
from tests.conftest import demo_rows, write_export
from tests.worker.cluster import Process, wait_until
from worker.jobs import Submission, create_job, resolve_model
from worker.settings import SizeLimits, get_settings
from worker.submit import pipeline_context
from worker.watch import Watcher

# Short, so that the tests are quick (the default is 5 s); exports in one process: they
# are not what is tested.
QUICK = {"CENR_WATCH_SETTLE_SECONDS": "1", "CENR_EXPORT_PROCESSES": "1"}


@dataclass(frozen=True)
class Version:
    """One job the watcher made of the file: its items, and the predictions it added."""

    job_id: str
    status: str
    sha256: str | None
    items: int
    done: int
    classified_here: int  # predictions of its documents made after the job was created


def _versions(url: str, name: str) -> list[Version]:
    """The jobs made of the inbox file ``name``, oldest first."""
    engine = open_database(url)
    versions = []
    with session_scope(engine) as session:
        jobs = session.execute(
            select(Job.id, Job.status, Job.created_at, SourceFile.sha256)
            .join(SourceFile, SourceFile.job_id == Job.id)
            .where(SourceFile.path == name)
            .order_by(Job.created_at)
        ).all()
        for job_id, status, created_at, sha256 in jobs:
            items = session.execute(
                select(JobItem.status, JobItem.document_id).where(JobItem.job_id == job_id)
            ).all()
            documents = [d for _, d in items if d is not None]
            made = session.scalars(
                select(Prediction.created_at).where(Prediction.document_id.in_(documents))
            ).all()
            versions.append(
                Version(
                    job_id, status, sha256, len(items),
                    sum(s == ItemState.DONE for s, _ in items),
                    sum(_aware(at) >= _aware(created_at) for at in made),
                )
            )  # fmt: skip
    engine.dispose()
    return versions


def _aware(moment: datetime) -> datetime:
    """SQLite hands timestamps back without their zone: compare them as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _predictions_per_document(url: str, job_id: str) -> list[int]:
    """How many predictions each document of the job has (one per document and model)."""
    engine = open_database(url)
    with session_scope(engine) as session:
        counts = session.execute(
            select(func.count(Prediction.id))
            .select_from(JobItem)
            .outerjoin(Prediction, Prediction.document_id == JobItem.document_id)
            .where(JobItem.job_id == job_id)
            .group_by(JobItem.id)
        ).all()
    engine.dispose()
    return [n for (n,) in counts]


def _whole_and_final(versions: list[Version], whole: bytes, n: int) -> bool:
    """The newest version is the whole file, its job done with all ``n`` protocols."""
    newest = versions[-1] if versions else None
    return (
        newest is not None
        and newest.sha256 == hashlib.sha256(whole).hexdigest()
        and newest.status == JobState.DONE
        and newest.done == n
    )


def _classified_once(
    url: str, inbox: Path, name: str, first: tuple[int, int], classified_by_final: int
) -> None:
    """Two versions of the file: the first of ``first`` (items, predictions it made); the
    final one's 48 protocols each predicted once, ``classified_by_final`` of them by it."""
    first_version, final = _versions(url, name)
    assert (first_version.items, first_version.classified_here) == first
    assert final.classified_here == classified_by_final, "a protocol was classified twice"
    assert _predictions_per_document(url, final.job_id) == [1] * 48
    assert not list((inbox / "processing").iterdir())


def _prefix(rows: list[dict[str, str]], n: int, folder: Path) -> int:
    """Bytes of the export holding the header and the first ``n`` rows."""
    return len(write_export(folder / f"first-{n}.csv", rows[:n]).read_bytes())


def test_a_copy_that_stalls_after_the_claim_is_taken_again_whole(
    sqlite_service: str, tmp_path: Path
) -> None:
    """The finding, against a real `cenr watch`: half a file (26 protocols and row 27 cut
    mid-text) is taken, classified and filed in ``done/``; the copy, still holding the
    file, writes the rest. The watcher takes the file back as a new version: the final
    file's 48 protocols are each classified once, the first 26 not again."""
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    rows = demo_rows(48, start=100)
    whole = write_export(tmp_path / "whole.csv", rows).read_bytes()
    cut = (_prefix(rows, 26, tmp_path) + _prefix(rows, 27, tmp_path)) // 2  # mid row 27
    env = {**os.environ, **QUICK}
    argv = ["watch", str(inbox), "--out", str(out), "--interval", "0.2"]
    watcher = Process(argv, env, tmp_path / "watch.log")
    done = inbox / "done" / "irb_export.csv"
    try:
        watcher.wait_for_output("watching")
        with (inbox / "irb_export.csv").open("wb") as copy:
            copy.write(whole[:cut])
            copy.flush()
            # The copy stalls for longer than the settle time, and the half file's job ends.
            assert wait_until(done.exists, timeout=240), watcher.output()[-3000:]
            copy.write(whole[cut:])
        last_write = time.monotonic()
        finished = wait_until(
            lambda: (
                _whole_and_final(_versions(sqlite_service, "irb_export.csv"), whole, 48)
                and done.exists()
                and done.read_bytes() == whole
            ),
            timeout=240,
        )
        elapsed = time.monotonic() - last_write
        assert finished, watcher.output()[-3000:]
        assert "changed after it was filed in done/" in watcher.output()
    finally:
        watcher.stop()
    assert done.read_bytes() == whole
    _classified_once(sqlite_service, inbox, "irb_export.csv", (27, 27), 48 - 26)  # + cut row 27
    print(f"\nstalled copy: all 48 protocols classified {elapsed:.1f} s after the last write")


def test_a_file_appended_after_its_claim_is_taken_again(
    sqlite_service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Watcher run in a thread: 24 rows are dropped (written, then renamed in), and 24
    more are appended to the claimed file after its job read it. The job ends with 24;
    the file, changed, is submitted again, and only the 24 new protocols are classified."""
    for name, value in QUICK.items():
        monkeypatch.setenv(name, value)
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    rows = demo_rows(48, start=50)
    whole = write_export(tmp_path / "whole.csv", rows).read_bytes()
    head = _prefix(rows, 24, tmp_path)
    (tmp_path / "export.csv").write_bytes(whole[:head])
    settings = get_settings()
    engine = open_database(sqlite_service)
    ctx, runner = pipeline_context(settings, engine)
    appended: list[float] = []

    def append_then_run() -> None:
        """After the first job has read the file, before it runs, the rest arrives."""
        if not appended:
            with (inbox / "processing" / "export.csv").open("ab") as handle:
                handle.write(whole[head:])
            appended.append(time.monotonic())
        runner.drain()

    watcher = Watcher(
        inbox, ctx, out, settle_seconds=settings.watch_settle_seconds,
        after_submit=append_then_run,
    )  # fmt: skip
    stop, failure = threading.Event(), []

    def run() -> None:
        try:
            watcher.run(interval=0.2, stop=stop.is_set)
        except BaseException as exc:  # the test fails with it, instead of timing out
            failure.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        os.rename(tmp_path / "export.csv", inbox / "export.csv")  # dropped as advised
        done = inbox / "done" / "export.csv"
        finished = wait_until(
            lambda: (
                bool(failure)
                or (
                    _whole_and_final(_versions(sqlite_service, "export.csv"), whole, 48)
                    and done.exists()
                )
            ),
            timeout=240,
        )
        elapsed = time.monotonic() - appended[0] if appended else float("nan")
    finally:
        stop.set()
        thread.join(timeout=60)
        engine.dispose()
    assert not failure, failure
    assert finished, _versions(sqlite_service, "export.csv")
    assert done.read_bytes() == whole
    _classified_once(sqlite_service, inbox, "export.csv", (24, 24), 48 - 24)
    print(f"\nappended file: all 48 protocols classified {elapsed:.1f} s after the append")


def test_a_pause_shorter_than_the_settle_time_is_no_claim(
    sqlite_service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The finding's copy (two halves 4 s apart) against the default settle time, on a
    clock of the test's own: the file is taken once, whole; names copy tools write under
    are never taken."""
    monkeypatch.delenv("CENR_WATCH_SETTLE_SECONDS", raising=False)
    settings = get_settings()
    assert settings.watch_settle_seconds == 5
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    whole = write_export(tmp_path / "whole.csv", demo_rows(48, start=100)).read_bytes()
    for name in ("x.csv.part", "x.csv.filepart", "~$x.xlsx", ".x.csv.tmp", "x.csv.download"):
        (inbox / name).write_bytes(whole)
    engine = open_database(sqlite_service)
    ctx, _runner = pipeline_context(settings, engine)  # steps are queued, never run here
    now = [0.0]
    watcher = Watcher(
        inbox, ctx, tmp_path / "out", settle_seconds=settings.watch_settle_seconds,
        clock=lambda: now[0],
    )  # fmt: skip
    copy = inbox / "irb_export.csv"

    def polls_at(*moments: float) -> None:
        for moment in moments:
            now[0] = moment
            watcher.poll()

    try:
        copy.write_bytes(whole[: len(whole) // 2])
        polls_at(0.0, 2.0, 4.0)
        assert copy.exists(), "half a file was taken"
        with copy.open("ab") as handle:
            handle.write(whole[len(whole) // 2 :])
        polls_at(4.1, 6.0, 9.0)
        assert copy.exists(), "taken before it held still for the settle time"
        polls_at(9.2, 100.0)
    finally:
        engine.dispose()
    assert not copy.exists()
    [version] = _versions(sqlite_service, "irb_export.csv")
    assert version.sha256 == hashlib.sha256(whole).hexdigest()
    assert len([p for p in inbox.iterdir() if p.is_file()]) == 5  # in-progress names wait


def test_a_restart_takes_again_a_claimed_file_that_changed(
    sqlite_service: str, tmp_path: Path
) -> None:
    """A watcher that restarts finds in ``processing/`` a file whose finished job read only
    its first half: the file is submitted again once it holds still, not filed away."""
    inbox = tmp_path / "inbox"
    claimed = inbox / "processing" / "irb_export.csv"
    whole = write_export(claimed, demo_rows(48, start=100)).read_bytes()
    claimed.write_bytes(whole[: len(whole) // 2])
    engine = open_database(sqlite_service)
    with session_scope(engine) as session:
        job = create_job(
            session, [Submission(claimed, claimed.name, watch_path=str(claimed))],
            resolve_model(session, None), tmp_path / "out", "watch", {},
            SizeLimits(2**30, 2**30),
        )  # fmt: skip
        job.status = JobState.DONE  # the previous watcher saw it end, then died
    claimed.write_bytes(whole)  # ... and the copy finished writing meanwhile
    ctx, _runner = pipeline_context(get_settings(), engine)  # steps queued, never run here
    now = [0.0]
    watcher = Watcher(inbox, ctx, tmp_path / "out", settle_seconds=5, clock=lambda: now[0])
    try:
        watcher.recover()
        for moment in (0.0, 3.0, 6.0):
            now[0] = moment
            watcher.poll()
    finally:
        engine.dispose()
    assert claimed.exists()
    assert not list((inbox / "done").iterdir()), "a file its job read half of was filed"
    first, final = _versions(sqlite_service, "irb_export.csv")
    assert first.sha256 == hashlib.sha256(whole[: len(whole) // 2]).hexdigest()
    assert final.sha256 == hashlib.sha256(whole).hexdigest()
