"""Dispatch policy: which step runs next, and in what batches.

Stage: between the stages. Claims a job's extracted items for classification in batches
of similar length, queues the export once nothing is pending, and queues again whatever a
lost message left behind. May touch the jobs, files and items tables and the dispatcher;
it calls no stage's work.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update

from schema.database import session_scope
from schema.errors import NotFound
from schema.states import PENDING_ITEMS, FileState, ItemState, JobState
from schema.tables import Document, Job, JobItem, SourceFile
from worker.context import Context
from worker.jobs import mark_queued, queued_files
from worker.settings import CHARS_PER_TOKEN, Settings


def start_job(ctx: Context, job_id: str) -> int:
    """Queue a created job's files (again, after a crash: every step is idempotent).

    Returns the number of files queued.
    """
    with session_scope(ctx.engine) as session:
        files = queued_files(session, job_id)
    for file_id in files:
        ctx.dispatcher.extract(job_id, file_id)
    with session_scope(ctx.engine) as session:
        mark_queued(session, job_id)
    finish_if_complete(ctx, job_id)
    return len(files)


def task_batches(items: Sequence[tuple[int, int]], settings: Settings) -> list[list[int]]:
    """``(item id, characters)`` pairs, shortest first, packed into classification tasks
    of at most ``CENR_CLASSIFY_BATCH`` documents and ``CENR_TASK_TOKENS`` estimated tokens
    (a document longer than that is a task of its own).

    Bounding tokens, not only documents, keeps every task to seconds of work whatever the
    protocols' length, which is what lets Redis hand a lost worker's task out again after
    a short visibility timeout.
    """
    batches: list[list[int]] = []
    tokens = 0
    for item, n_chars in sorted(items, key=lambda pair: (pair[1], pair[0])):
        estimate = min(settings.max_tokens, -(-n_chars // CHARS_PER_TOKEN))
        if (
            not batches
            or len(batches[-1]) >= settings.classify_batch
            or tokens + estimate > settings.task_tokens
        ):
            batches.append([])
            tokens = 0
        batches[-1].append(item)
        tokens += estimate
    return batches


def _length_batches(ctx: Context, session: Any, *where: Any) -> list[list[int]]:
    """The pending items matching ``where`` in tasks of documents of similar length.

    Batches of similar lengths pad little: the classifier's own length bucketing, carried
    over to the tasks (1.4x the documents per second on BBC News).
    """
    pending = session.execute(
        select(JobItem.id, Document.n_chars)
        .join(Document, Document.id == JobItem.document_id)
        .where(JobItem.status.in_(PENDING_ITEMS), *where)
    ).all()
    return task_batches([(item, n_chars) for item, n_chars in pending], ctx.settings)


def _dispatch(ctx: Context, job_id: str, batches: list[list[int]]) -> int:
    for batch in batches:
        ctx.dispatcher.classify(job_id, batch)
    return len(batches)


def dispatch_waiting(ctx: Context, job_id: str) -> int:
    """Queue the job's extracted items once there are enough for a full task, or no file
    of the job is left to extract; returns the tasks queued.

    A folder of single-document files would otherwise make one-document tasks. The items
    are claimed by one atomic update (``waiting`` -> ``queued``), so two extractions that
    finish together never queue the same item twice.
    """
    with session_scope(ctx.engine) as session:
        waiting = JobItem.job_id == job_id, JobItem.status == ItemState.WAITING
        files_left = session.scalar(
            select(func.count())
            .select_from(SourceFile)
            .where(SourceFile.job_id == job_id, SourceFile.status == FileState.QUEUED)
        )
        ready, chars = session.execute(
            select(func.count(), func.coalesce(func.sum(Document.n_chars), 0))
            .select_from(JobItem)
            .join(Document, Document.id == JobItem.document_id)
            .where(*waiting)
        ).one()
        full = ready >= ctx.settings.classify_batch or (
            chars / CHARS_PER_TOKEN >= ctx.settings.task_tokens
        )
        if not ready or (files_left and not full):
            return 0
        length = select(Document.n_chars).where(Document.id == JobItem.document_id)
        claim = update(JobItem).where(*waiting).values(status=ItemState.QUEUED)
        claimed = session.execute(claim.returning(JobItem.id, length.scalar_subquery())).all()
    return _dispatch(ctx, job_id, task_batches([(i, n) for i, n in claimed], ctx.settings))


def requeue_job(ctx: Context, job_id: str) -> int:
    """Queue again everything of a job that is not finished; returns the steps queued.

    For a job whose queue messages were lost (a broker restarted without persistence);
    safe at any time, since every step is idempotent.
    """
    with session_scope(ctx.engine) as session:
        job = session.get(Job, job_id)
        if job is None:
            raise NotFound(f"no job {job_id!r}")
        exporting = job.status == JobState.EXPORTING
        session.execute(  # all of it now: a later extraction finds nothing left waiting
            update(JobItem)
            .where(JobItem.job_id == job_id, JobItem.status == ItemState.WAITING)
            .values(status=ItemState.QUEUED)
        )
        batches = _length_batches(ctx, session, JobItem.job_id == job_id)
    tasks = _dispatch(ctx, job_id, batches)
    if exporting:
        ctx.dispatcher.export(job_id)
    return tasks + exporting + start_job(ctx, job_id)


def finish_if_complete(ctx: Context, job_id: str) -> None:
    """Queue the export once, when no file or item of the job is left pending."""
    with session_scope(ctx.engine) as session:
        files = session.scalar(
            select(func.count())
            .select_from(SourceFile)
            .where(SourceFile.job_id == job_id, SourceFile.status == FileState.QUEUED)
        )
        items = session.scalar(
            select(func.count())
            .select_from(JobItem)
            .where(JobItem.job_id == job_id, JobItem.status.in_(PENDING_ITEMS))
        )
        if files or items:
            return
        claimed = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status.in_((JobState.QUEUED, JobState.RUNNING)))
            .values(status=JobState.EXPORTING)
        ).rowcount  # type: ignore[attr-defined]
    if claimed:
        ctx.dispatcher.export(job_id)
