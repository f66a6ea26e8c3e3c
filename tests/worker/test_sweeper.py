"""The stall sweeper on PostgreSQL, with the clock moved by editing timestamps: a job whose
messages were lost is queued again by one sweep; one that never progresses however often
it is queued again is ended, its protocols failed with the reason; a broker that is away
does not count against a job."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from schema.database import open_database, session_scope
from schema.tables import Job, JobItem, ProcessingError, SourceFile
from tests.conftest import demo_rows, write_export
from worker.context import Context
from worker.dispatch import requeue_job, start_job
from worker.extract.step import extract_file
from worker.settings import get_settings
from worker.store import now
from worker.submit import submit_paths
from worker.sweeper import MAX_REQUEUES, sweep


@dataclass
class LostMessages:
    """A dispatcher whose messages never arrive (a broker restarted without persistence)."""

    sent: list[tuple[str, Any]] = field(default_factory=list)
    down: bool = False

    def _send(self, step: str, *args: Any) -> None:
        if self.down:
            raise ConnectionError("broker unreachable")
        self.sent.append((step, args))

    def extract(self, job_id: str, file_id: int) -> None:
        self._send("extract", job_id, file_id)

    def classify(self, job_id: str, item_ids: list[int]) -> None:
        self._send("classify", job_id, item_ids)

    def export(self, job_id: str) -> None:
        self._send("export", job_id)


@pytest.fixture
def stalled(postgres_service: str, tmp_path: Path) -> Any:
    """A context with lost messages, and a job of 3 protocols extracted an hour ago whose
    classification messages were lost."""
    engine = open_database(postgres_service)
    lost = LostMessages()
    ctx = Context(get_settings(), engine, lost)
    write_export(tmp_path / "export.csv", demo_rows(3))
    job = submit_paths(ctx.settings, engine, [tmp_path / "export.csv"], None, tmp_path / "out",
                       "submit", {"text_columns": [], "id_column": ""})  # fmt: skip
    start_job(ctx, job)
    with session_scope(engine) as session:
        file_id = session.scalar(select(SourceFile.id).where(SourceFile.job_id == job))
    extract_file(ctx, job, file_id)
    _age(ctx, job, created=timedelta(hours=1))
    yield ctx, job, lost
    engine.dispose()


def _age(ctx: Context, job: str, **ago: timedelta) -> None:
    """Move a job's timestamps into the past (``created``, ``requeued``, ``finished``)."""
    with session_scope(ctx.engine) as session:
        if "created" in ago:
            session.execute(update(Job).where(Job.id == job)
                            .values(created_at=now() - ago["created"]))  # fmt: skip
        if "requeued" in ago:
            session.execute(update(Job).where(Job.id == job)
                            .values(requeued_at=now() - ago["requeued"]))  # fmt: skip
        if "finished" in ago:
            first = session.scalars(select(JobItem).where(JobItem.job_id == job)).first()
            assert first is not None
            first.status, first.finished_at = "done", now() - ago["finished"]


def _state(ctx: Context, job: str) -> tuple[int, dict[str, int]]:
    with session_scope(ctx.engine) as session:
        count = session.scalar(select(Job.requeue_count).where(Job.id == job))
        items = session.scalars(select(JobItem.status).where(JobItem.job_id == job)).all()
    return int(count or 0), {s: items.count(s) for s in set(items)}


def test_a_stalled_job_is_queued_again_then_ended_if_it_never_progresses(stalled: Any) -> None:
    """A stalled job is queued again once per stall time, and after the most requeues without
    progress its protocols fail with the reason and its export is queued."""
    ctx, job, lost = stalled
    assert sweep(ctx) == [job]
    assert lost.sent[-1][0] == "classify"
    assert sweep(ctx) == [], "not again before the stall time has passed"
    for n in range(2, MAX_REQUEUES + 1):
        _age(ctx, job, requeued=timedelta(hours=1))
        assert sweep(ctx) == [job]
        assert _state(ctx, job) == (n, {"queued": 3})

    _age(ctx, job, requeued=timedelta(hours=1))
    assert sweep(ctx) == [job]  # queued again MAX_REQUEUES times, never a protocol done
    assert _state(ctx, job)[1] == {"failed": 3}
    with session_scope(ctx.engine) as session:
        reasons = session.scalars(
            select(ProcessingError.message).where(ProcessingError.job_id == job)
        ).all()
        status = session.scalar(select(Job.status).where(Job.id == job))
    assert (
        reasons
        == [
            "no progress although queued again 3 times, 1200 s apart: its processing keeps "
            "being interrupted (a worker killed or stuck on it?)"
        ]
        * 3
    )
    assert status == "exporting"  # ends like any job: its export is queued
    assert lost.sent[-1] == ("export", (job,))


def test_progress_between_sweeps_starts_the_count_again(stalled: Any) -> None:
    """A protocol finished after the last requeue starts the requeue count again, so the job is
    queued again instead of ended."""
    ctx, job, _ = stalled
    for _ in range(MAX_REQUEUES):
        _age(ctx, job, requeued=timedelta(hours=1))
        sweep(ctx)
    assert _state(ctx, job) == (MAX_REQUEUES, {"queued": 3})
    # a protocol finished after the last requeue, and nothing since for the stall time
    _age(ctx, job, requeued=timedelta(hours=2), finished=timedelta(hours=1))
    assert sweep(ctx) == [job]
    assert _state(ctx, job) == (1, {"done": 1, "queued": 2})


def test_a_broker_that_is_away_does_not_count_against_a_job(stalled: Any) -> None:
    """Sweeps that fail while the broker is down do not count as requeues of the job."""
    ctx, job, lost = stalled
    lost.down = True
    for _ in range(MAX_REQUEUES + 2):
        _age(ctx, job, requeued=timedelta(hours=1))
        with pytest.raises(ConnectionError):
            sweep(ctx)
    assert _state(ctx, job) == (0, {"queued": 3})
    lost.down = False
    _age(ctx, job, requeued=timedelta(hours=1))
    assert sweep(ctx) == [job]
    assert _state(ctx, job) == (1, {"queued": 3})


def test_requeue_queues_what_waits_once(
    postgres_service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Protocols waiting for a full task are queued by a requeue, and not again by the
    extraction that follows it."""
    monkeypatch.setenv("CENR_CLASSIFY_BATCH", "4")
    engine = open_database(postgres_service)
    lost = LostMessages()
    ctx = Context(get_settings(), engine, lost)
    for name in ("a.txt", "b.txt"):
        (tmp_path / "in" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "in" / name).write_text(f"Community partners co-lead study {name}.")
    job = submit_paths(ctx.settings, engine, [tmp_path / "in"], None, tmp_path / "out",
                       "submit", {"text_columns": [], "id_column": ""})  # fmt: skip
    start_job(ctx, job)
    first, second = (args[1] for step, args in lost.sent if step == "extract")
    extract_file(ctx, job, first)
    assert _state(ctx, job)[1] == {"waiting": 1}, "one protocol: less than a task"
    requeue_job(ctx, job)
    assert _state(ctx, job)[1] == {"queued": 1}
    extract_file(ctx, job, second)
    classified = [args[1] for step, args in lost.sent if step == "classify"]
    assert sorted(len(ids) for ids in classified) == [1, 1], "each protocol queued once"
    assert _state(ctx, job)[1] == {"queued": 2}
    engine.dispose()
