"""The extract stage's step: one stored file -> documents and job items.

Stage: extract. May touch the source file, the documents and the job items it creates,
and the error log; it hands on to :mod:`worker.dispatch` and knows no other stage.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import undefer

from schema.database import session_scope
from schema.errors import InputFileError
from schema.states import FileState, ItemState, JobState
from schema.tables import Job, JobItem, SourceFile
from worker.context import STOP_STEP, Context
from worker.dispatch import dispatch_waiting, finish_if_complete
from worker.extract.source import Limits, extract_source
from worker.settings import Settings
from worker.store import document_ids, record_error

log = logging.getLogger(__name__)


def limits(settings: Settings) -> Limits:
    """What one file may hold, from the ``CENR_MAX_*`` settings."""
    return Limits(
        max_file_bytes=settings.max_file_bytes,
        max_table_bytes=settings.size_limits.table_bytes,
        max_unzipped_bytes=int(settings.max_unzipped_mb * 2**20),
        max_rows=settings.max_rows,
        max_pdf_pages=settings.max_pdf_pages,
    )


def extract_file(ctx: Context, job_id: str, file_id: int) -> None:
    """Turn one stored file into documents and job items, then queue their classification."""
    with session_scope(ctx.engine) as session:
        source = session.get(SourceFile, file_id, options=[undefer(SourceFile.content)])
        job = session.get(Job, job_id)
        if source is None or job is None:
            log.warning("job %s file %s no longer exists; nothing to do", job_id, file_id)
            return
        if source.status == FileState.QUEUED:
            _extract(ctx, session, job, source)
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobState.QUEUED)
            .values(status=JobState.RUNNING)
        )
    dispatch_waiting(ctx, job_id)  # queued only once the items are committed
    finish_if_complete(ctx, job_id)


def _extract(ctx: Context, session: Any, job: Job, source: SourceFile) -> None:
    options = job.options or {}
    started = time.perf_counter()
    try:
        found = extract_source(
            source.path,
            source.content or b"",
            limits(ctx.settings),
            options.get("text_columns") or ctx.settings.text_columns,
            options.get("id_column") or ctx.settings.id_column or None,
        )
    except InputFileError as exc:
        _fail_file(session, job.id, source, exc)
        return
    except STOP_STEP:
        raise
    except Exception as exc:  # a reader bug must not stop the job or the worker
        log.exception("extracting %s failed", source.path)
        _fail_file(session, job.id, source, InputFileError(f"{source.path}: cannot extract: {exc}"))
        return
    good = [e for e in found if e.protocol is not None]
    ids = iter(document_ids(session, [e.protocol for e in good if e.protocol]))
    session.execute(
        insert(JobItem),
        [
            {
                "job_id": job.id,
                "source_file_id": source.id,
                "position": e.position,
                "external_id": e.external_id[:500],
                "document_id": next(ids) if e.protocol is not None else None,
                "status": ItemState.WAITING if e.protocol is not None else ItemState.FAILED,
            }
            for e in found
        ],
    )
    failed = {e.position: e.error for e in found if e.error}
    if failed:
        item_ids = session.execute(
            select(JobItem.position, JobItem.id).where(JobItem.source_file_id == source.id)
        )
        for position, item_id in item_ids:
            if position in failed:
                record_error(session, job.id, "extract", failed[position], source.id, item_id)
    source.status = FileState.EXTRACTED
    source.n_documents = len(good)
    source.content = None  # the documents hold the text now
    log.info("job %s: %s extracted in %.2f s, %d protocol(s)", job.id, source.path,
             time.perf_counter() - started, len(good))  # fmt: skip


def _fail_file(session: Any, job_id: str, source: SourceFile, exc: Exception) -> None:
    source.status = FileState.FAILED
    source.content = None
    record_error(session, job_id, "extract", exc, source_file_id=source.id)


def fail_file(ctx: Context, job_id: str, file_id: int, exc: BaseException) -> None:
    """Last resort when extraction keeps failing: the file fails, the job goes on."""
    with session_scope(ctx.engine) as session:
        source = session.get(SourceFile, file_id)
        if source is not None and source.status == FileState.QUEUED:
            _fail_file(session, job_id, source, InputFileError(f"{source.path}: {exc}"))
    dispatch_waiting(ctx, job_id)  # the items other files left waiting for this one
    finish_if_complete(ctx, job_id)
