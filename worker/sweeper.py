"""The stall sweeper: jobs whose queue messages were lost are queued again.

A broker that restarts without persistence (Redis with ``--save ""``) forgets every
message it held; the database still knows which files and protocols are pending. Every
``cenr worker`` runs a sweep now and then: a distributed job that is unfinished and has
made no progress for ``CENR_STALL_SECONDS`` (no protocol finished, not queued again in
that time) is claimed by one worker - an atomic update of ``jobs.requeued_at``, so two
workers never both queue it - and queued again with :func:`worker.pipeline.requeue_job`,
which is safe because every step is idempotent.

``CENR_STALL_SECONDS`` must exceed ``CENR_TASK_TIME_LIMIT``: a job is only swept when no
step of it can still be running.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from sqlalchemy import func, or_, select, update

from schema.database import session_scope
from schema.tables import Job, JobItem
from worker.pipeline import Context, requeue_job
from worker.store import now

log = logging.getLogger(__name__)
UNFINISHED = ("created", "queued", "running", "exporting")


def stalled_jobs(ctx: Context) -> list[str]:
    """Unfinished jobs with no finished protocol and no requeue within the stall time."""
    cutoff = now() - timedelta(seconds=ctx.settings.stall_seconds)
    last_finished = (
        select(func.max(JobItem.finished_at))
        .where(JobItem.job_id == Job.id)
        .correlate(Job)
        .scalar_subquery()
    )
    with session_scope(ctx.engine) as session:
        return list(
            session.scalars(
                select(Job.id).where(
                    Job.status.in_(UNFINISHED),
                    Job.created_at < cutoff,
                    or_(Job.requeued_at.is_(None), Job.requeued_at < cutoff),
                    or_(last_finished.is_(None), last_finished < cutoff),
                )
            )
        )


def _claim(ctx: Context, job_id: str) -> bool:
    """True for the one worker whose update marks the job requeued now."""
    cutoff = now() - timedelta(seconds=ctx.settings.stall_seconds)
    with session_scope(ctx.engine) as session:
        claimed = session.execute(
            update(Job)
            .where(Job.id == job_id, or_(Job.requeued_at.is_(None), Job.requeued_at < cutoff))
            .values(requeued_at=now())
        ).rowcount  # type: ignore[attr-defined]
    return bool(claimed)


def sweep(ctx: Context) -> list[str]:
    """Queue every stalled job again; returns their ids."""
    swept = []
    for job_id in stalled_jobs(ctx):
        if not _claim(ctx, job_id):
            continue
        steps = requeue_job(ctx, job_id)
        log.warning(
            "job %s made no progress for %d s (its queue messages were lost?): %d step(s) "
            "queued again",
            job_id, ctx.settings.stall_seconds, steps,
        )  # fmt: skip
        swept.append(job_id)
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
