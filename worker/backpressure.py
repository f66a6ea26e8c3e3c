"""Backpressure: refuse new work while too much is waiting or the disk is nearly full.

Stage: before extract. Reads the queue's depth from the tables and the free disk; writes
nothing.

The queue's depth is read from the database, the one place every host shares: the
protocols of unfinished jobs still waiting to be classified, plus their files not yet
extracted (a file counts as one until its rows are known). Submitting paths
(``cenr submit``, the portal) raise :class:`~schema.errors.QueueFull`; the watcher
leaves new files in its inbox and picks them up once the workers have caught up, so
nothing is lost either way.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schema.errors import QueueFull
from schema.states import PENDING_ITEMS, UNFINISHED_JOBS, FileState
from schema.tables import Job, JobItem, SourceFile
from worker.settings import Settings


def queue_depth(session: Session) -> int:
    """Protocols (and unextracted files) of unfinished jobs still waiting for a worker."""
    unfinished = Job.status.in_(UNFINISHED_JOBS)
    items = session.scalar(
        select(func.count())
        .select_from(JobItem)
        .join(Job, Job.id == JobItem.job_id)
        .where(unfinished, JobItem.status.in_(PENDING_ITEMS))
    )
    files = session.scalar(
        select(func.count())
        .select_from(SourceFile)
        .join(Job, Job.id == SourceFile.job_id)
        .where(unfinished, SourceFile.status == FileState.QUEUED)
    )
    return int(items or 0) + int(files or 0)


def free_mb(path: Path) -> float:
    """Free space on the disk holding ``path`` (or its nearest existing parent), in MB."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free / 2**20


def check_capacity(session: Session, settings: Settings) -> None:
    """Raise :class:`QueueFull` when new work should wait; the message says why."""
    if settings.max_queued:
        depth = queue_depth(session)
        if depth >= settings.max_queued:
            raise QueueFull(
                f"the queue is full: {depth} protocol(s) are waiting, the bound is "
                f"{settings.max_queued} (CENR_MAX_QUEUED); nothing was submitted, try again "
                "once the workers have caught up (`cenr status`)"
            )
    if settings.min_free_mb:
        free = free_mb(settings.home)
        if free < settings.min_free_mb:
            raise QueueFull(
                f"the disk holding {settings.home} has {free:.0f} MB free, under "
                f"{settings.min_free_mb:.0f} MB (CENR_MIN_FREE_MB); nothing was submitted"
            )
