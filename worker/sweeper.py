"""The stall sweeper: jobs whose queue messages were lost are queued again.

Stage: none (keeps distributed jobs moving). Reads job progress and hands stalled jobs to
:mod:`worker.dispatch`; may fail the rest of a job that makes no progress.

A broker that restarts without persistence (Redis with ``--save ""``) forgets every
message it held; the database still knows which files and protocols are pending. Every
``cenr worker`` runs a sweep now and then: a distributed job that is unfinished and has
made no progress for ``CENR_STALL_SECONDS`` (no protocol finished, not queued again in
that time) is claimed by one worker - an atomic update of ``jobs.requeued_at``, so two
workers never both queue it - and queued again with :func:`worker.dispatch.requeue_job`,
which is safe because every step is idempotent.

``CENR_STALL_SECONDS`` must exceed ``CENR_TASK_TIME_LIMIT``: a job is only swept when no
step of it can still be running.

A job queued again :data:`MAX_REQUEUES` times with no protocol finished since is
not lost but stuck: a step that kills its worker, or runs into the hard time limit
(which skips the failure handler), would otherwise be retried forever. Its unfinished
files and protocols are failed with the reason, so the job ends.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update

from schema.database import session_scope
from schema.errors import NoProgress
from schema.states import PENDING_ITEMS, UNFINISHED_JOBS, FileState, JobState
from schema.tables import Job, JobItem, SourceFile
from worker.classify import fail_items
from worker.context import Context
from worker.dispatch import requeue_job
from worker.export import fail_export
from worker.extract.step import fail_file
from worker.store import now

log = logging.getLogger(__name__)
MAX_REQUEUES = 3


def _last_finished() -> Any:
    return (
        select(func.max(JobItem.finished_at))
        .where(JobItem.job_id == Job.id)
        .correlate(Job)
        .scalar_subquery()
    )


def stalled_jobs(ctx: Context) -> list[str]:
    """Unfinished jobs with no finished protocol and no requeue within the stall time."""
    cutoff = now() - timedelta(seconds=ctx.settings.stall_seconds)
    last_finished = _last_finished()
    with session_scope(ctx.engine) as session:
        return list(
            session.scalars(
                select(Job.id).where(
                    Job.status.in_(UNFINISHED_JOBS),
                    Job.created_at < cutoff,
                    or_(Job.requeued_at.is_(None), Job.requeued_at < cutoff),
                    or_(last_finished.is_(None), last_finished < cutoff),
                )
            )
        )


def _claim(ctx: Context, job_id: str) -> int | None:
    """For the one worker whose update marks the job requeued now: how many times it was
    queued again since a protocol last finished; None for the others."""
    cutoff = now() - timedelta(seconds=ctx.settings.stall_seconds)
    progressed = and_(Job.requeued_at.is_not(None), _last_finished() > Job.requeued_at)
    with session_scope(ctx.engine) as session:
        count = session.scalar(
            update(Job)
            .where(Job.id == job_id, or_(Job.requeued_at.is_(None), Job.requeued_at < cutoff))
            .values(requeued_at=now(), requeue_count=case((progressed, 0), else_=Job.requeue_count))
            .returning(Job.requeue_count)
        )
    return None if count is None else int(count)


def _give_up(ctx: Context, job_id: str, requeued: int) -> None:
    """Fail what is left of a job that never progresses, so that it ends."""
    reason = NoProgress(
        f"no progress although queued again {requeued} times, {ctx.settings.stall_seconds} s "
        "apart: its processing keeps being interrupted (a worker killed or stuck on it?)"
    )
    with session_scope(ctx.engine) as session:
        files = list(session.scalars(select(SourceFile.id).where(
            SourceFile.job_id == job_id, SourceFile.status == FileState.QUEUED)))  # fmt: skip
        items = list(session.scalars(select(JobItem.id).where(
            JobItem.job_id == job_id, JobItem.status.in_(PENDING_ITEMS))))  # fmt: skip
        exporting = session.scalar(select(Job.status).where(Job.id == job_id)) == JobState.EXPORTING
    for file_id in files:
        fail_file(ctx, job_id, file_id, reason)
    if items:
        fail_items(ctx, job_id, items, reason)
    if exporting:
        fail_export(ctx, job_id, reason)
    log.error("job %s: %s; %d file(s) and %d protocol(s) failed", job_id, reason,
              len(files), len(items))  # fmt: skip


def sweep(ctx: Context) -> list[str]:
    """Queue every stalled job again (or end it, when requeuing never helps); returns
    their ids."""
    swept = []
    for job_id in stalled_jobs(ctx):
        requeued = _claim(ctx, job_id)
        if requeued is None:
            continue
        swept.append(job_id)
        if requeued >= MAX_REQUEUES:
            _give_up(ctx, job_id, requeued)
            continue
        steps = requeue_job(ctx, job_id)  # a broker that is away raises: not counted
        with session_scope(ctx.engine) as session:
            session.execute(update(Job).where(Job.id == job_id)
                            .values(requeue_count=requeued + 1))  # fmt: skip
        log.warning(
            "job %s made no progress for %d s (its queue messages were lost?): %d step(s) "
            "queued again",
            job_id, ctx.settings.stall_seconds, steps,
        )  # fmt: skip
    return swept


def start_sweeping(ctx: Context, stop: threading.Event) -> threading.Thread:
    """Sweep every quarter of the stall time in a daemon thread until ``stop`` is set."""
    interval = max(1.0, ctx.settings.stall_seconds / 4)

    def loop() -> None:
        while not stop.wait(interval):
            try:
                sweep(ctx)
            except Exception:  # the database or broker is away: the next sweep tries again
                log.warning("stall sweep failed; trying again in %.0f s", interval, exc_info=True)

    thread = threading.Thread(target=loop, name="cenr-stall-sweeper", daemon=True)
    thread.start()
    return thread
