"""The read model's own logic: what a job's status says it waits for."""

from __future__ import annotations

from dataclasses import replace

from schema.views import JobStatus

STATUS = JobStatus(
    job="j1", status="running", model="m", total=10, queued=2, running=4, done=4, failed=0,
    files=1, created_at="", finished_at=None, docs_per_second=0.5, seconds_left=12.0,
    out_dir="/out", exports=[],
)  # fmt: skip


def test_a_job_says_its_time_left_or_the_lost_worker_it_waits_for() -> None:
    """The note is the time left, or, when a lost worker held protocols, how many and for
    how long the job has waited for them; both reach the JSON."""
    assert STATUS.progress_note == "12 s left"
    lost = replace(STATUS, lost=4, waiting_seconds=31.4, seconds_left=None)
    assert lost.progress_note == (
        "waiting 31 s for 4 protocol(s) of a lost worker (handed out again after "
        "CENR_VISIBILITY_TIMEOUT)"
    )
    assert lost.to_dict()["progress_note"] == lost.progress_note
    assert replace(STATUS, seconds_left=None).progress_note == ""
