"""Reads for people: a job's progress, its per-protocol results and its failures.

Stage: none (the read side). Fills the dataclasses of :mod:`schema.views` from the
tables, reading only; the export stage, the CLI and the portal show what it returns.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Text, and_, false, func, select, true, type_coerce
from sqlalchemy.orm import Session

from schema.database import aware
from schema.errors import ConfigError, NotFound
from schema.evidence import Evidence, Passage
from schema.states import FileState, ItemState, JobState
from schema.tables import (
    Adjudication,
    Document,
    Job,
    JobItem,
    ModelVersion,
    Prediction,
    ProcessingError,
    Review,
    SourceFile,
)
from schema.views import JobStatus, ResultRow, ReviewData, ReviewRow, TokenSpan
from worker.store import chunks


def latest_job_id(session: Session) -> str:
    job_id = session.scalar(select(Job.id).order_by(Job.created_at.desc()).limit(1))
    if job_id is None:
        raise ConfigError("no jobs yet: submit files with `cenr submit` or `cenr run`")
    return job_id


def _count_by_status(session: Session, table: Any, job_id: str) -> Counter[str]:
    """Rows of a job's items or files per status."""
    query = select(table.status, func.count()).where(table.job_id == job_id)
    return Counter(dict(session.execute(query.group_by(table.status)).all()))


def job_status(session: Session, job_id: str, lost_after: float | None = None) -> JobStatus:
    """A job's counts, rate and time left. With ``lost_after`` (seconds: the longest a
    distributed step can run), protocols still running with no progress for longer are
    counted as a lost worker's, and the time left gives way to how long they have waited."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job {job_id!r}; `cenr status` without a job shows the newest")
    items = _count_by_status(session, JobItem, job_id)
    files = _count_by_status(session, SourceFile, job_id)
    model = session.scalar(select(ModelVersion.name).where(ModelVersion.id == job.model_version_id))
    queued = items[ItemState.WAITING] + items[ItemState.QUEUED] + files[FileState.QUEUED]
    running, done = items[ItemState.RUNNING], items[ItemState.DONE]
    failed = items[ItemState.FAILED] + files[FileState.FAILED]
    started = aware(job.created_at)
    end = aware(job.finished_at) if job.finished_at else datetime.now(UTC)
    elapsed = (end - started).total_seconds()
    rate = done / elapsed if done and elapsed > 0 else None
    left = (queued + running) / rate if rate else None
    lost, waited = 0, None
    if lost_after is not None and running and job.status != JobState.DONE:
        cutoff = datetime.now(UTC) - timedelta(seconds=lost_after)
        lost, oldest = session.execute(
            select(func.count(), func.min(JobItem.started_at)).where(
                JobItem.job_id == job_id, JobItem.status == ItemState.RUNNING,
                JobItem.started_at < cutoff,
            )
        ).one()  # fmt: skip
        if lost and oldest is not None:
            waited, left = round((datetime.now(UTC) - aware(oldest)).total_seconds(), 1), None
    return JobStatus(
        job=job.id,
        status=job.status,
        model=model or "?",
        total=queued + running + done + failed,
        queued=queued,
        running=running,
        done=done,
        failed=failed,
        files=sum(files.values()),
        created_at=started.isoformat(),
        finished_at=aware(job.finished_at).isoformat() if job.finished_at else None,
        docs_per_second=round(rate, 3) if rate else None,
        seconds_left=round(left, 1) if left is not None else None,
        out_dir=job.out_dir,
        exports=list(job.exports or []),
        lost=lost,
        waiting_seconds=waited,
    )


def job_rows(session: Session, job_id: str, only_failed: bool = False) -> list[ResultRow]:
    """Every protocol and every unreadable file of the job (or only the failed ones), in
    submission order."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job {job_id!r}")
    errors = _errors(session, job_id)
    rows = []
    query = (
        select(JobItem, SourceFile.path, Prediction, Document.fields)
        .join(SourceFile, SourceFile.id == JobItem.source_file_id)
        .outerjoin(Document, Document.id == JobItem.document_id)
        .outerjoin(
            Prediction,
            and_(
                Prediction.document_id == JobItem.document_id,
                Prediction.model_version_id == job.model_version_id,
            ),
        )
        .where(JobItem.job_id == job_id)
        .where(JobItem.status == ItemState.FAILED if only_failed else true())
        .order_by(JobItem.source_file_id, JobItem.position)
    )
    for item, path, prediction, fields in session.execute(query):
        done = item.status == ItemState.DONE and prediction is not None
        rows.append(
            ResultRow(
                file=path,
                position=item.position,
                protocol_id=item.external_id,
                status=item.status,
                level_code=prediction.level_code if done else None,
                confidence=prediction.confidence if done else None,
                probabilities=prediction.probabilities if done else None,
                faithfulness=prediction.faithfulness if done else None,
                tokens_cut=prediction.tokens_cut if done else None,
                top_tokens=[(t, float(w)) for t, w in prediction.top_tokens] if done else [],
                error=errors.get(("item", item.id)),
                fields=fields,
                item_id=item.id,
                faithfulness_detail=prediction.faithfulness_detail if done else None,
            )
        )
    for source in session.scalars(
        select(SourceFile).where(SourceFile.job_id == job_id, SourceFile.status == FileState.FAILED)
    ):
        rows.append(
            ResultRow(
                file=source.path,
                position=0,
                protocol_id="",
                status=ItemState.FAILED,
                level_code=None,
                confidence=None,
                probabilities=None,
                faithfulness=None,
                tokens_cut=None,
                top_tokens=[],
                error=errors.get(("file", source.id)),
                fields=None,
            )
        )
    return rows


def _errors(session: Session, job_id: str) -> dict[tuple[str, int | None], str]:
    found: dict[tuple[str, int | None], str] = {}
    for error in session.scalars(
        select(ProcessingError).where(ProcessingError.job_id == job_id).order_by(ProcessingError.id)
    ):
        key = ("item", error.job_item_id) if error.job_item_id else ("file", error.source_file_id)
        found[key] = error.message
    return found


def job_errors(session: Session, job_id: str) -> list[str]:
    """Every failure of the job, one line each, in order, each naming its file (and its
    protocol, for a failure after extraction)."""
    rows = session.execute(
        select(ProcessingError.message, SourceFile.path, JobItem.external_id)
        .outerjoin(SourceFile, SourceFile.id == ProcessingError.source_file_id)
        .outerjoin(JobItem, JobItem.id == ProcessingError.job_item_id)
        .where(ProcessingError.job_id == job_id)
        .order_by(ProcessingError.id)
    )
    lines = []
    for message, path, protocol in rows:
        if path and not message.startswith(path):
            where = f"{path}, protocol {protocol}" if protocol else path
            message = f"{where}: {message}"
        lines.append(message)
    return lines


def review_data(
    session: Session, job_id: str, item_id: int | None = None, reviewer: str | None = None
) -> ReviewData:
    """The job's classified protocols (or only ``item_id``), those most in need of a human
    first: lowest calibrated confidence, then lowest faithfulness; with ``reviewer``, only
    that reviewer's levels (what a reviewer may see), else every review and adjudication."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job {job_id!r}; `cenr status` shows the newest")
    model = session.get(ModelVersion, job.model_version_id)
    assert model is not None
    query = (
        select(JobItem.id, SourceFile.path, JobItem.external_id, Prediction, Document.fields)
        .join(SourceFile, SourceFile.id == JobItem.source_file_id)
        .join(Document, Document.id == JobItem.document_id)
        .join(
            Prediction,
            and_(
                Prediction.document_id == JobItem.document_id,
                Prediction.model_version_id == job.model_version_id,
            ),
        )
        .where(JobItem.job_id == job_id, JobItem.status == ItemState.DONE)
        .where(JobItem.id == item_id if item_id is not None else true())
    )
    rows = [
        ReviewRow(
            item_id=item_id,
            prediction_id=p.id,
            protocol_id=external_id,
            file=path,
            fields=dict(fields),
            level_index=p.level_index,
            level_code=p.level_code,
            confidence=p.confidence,
            probabilities=list(p.probabilities),
            faithfulness=p.faithfulness,
            n_tokens=p.n_tokens,
            tokens_cut=p.tokens_cut,
            top_tokens=[(t, float(w)) for t, w in p.top_tokens],
            faithfulness_detail=p.faithfulness_detail,
        )
        for item_id, path, external_id, p, fields in session.execute(query)
    ]
    rows.sort(key=lambda r: (r.confidence, r.faithfulness if r.faithfulness is not None else 1.0))
    stored = evidence_by_prediction(session, [r.prediction_id for r in rows])
    for row in rows:
        row.evidence = stored.get(row.prediction_id)
    failures = job_rows(session, job_id, only_failed=True)
    reviews: dict[int, list[tuple[str, str]]] = {}
    for item_id, name, level in session.execute(
        select(Review.job_item_id, Review.reviewer, Review.level_code)
        .where(Review.job_id == job_id)
        .where(Review.reviewer == reviewer if reviewer is not None else true())
        .order_by(Review.reviewer)
    ):
        reviews.setdefault(item_id, []).append((name, level))
    for item_id, adjudicator, level in session.execute(
        select(Adjudication.job_item_id, Adjudication.reviewer, Adjudication.level_code).where(
            Adjudication.job_id == job_id, true() if reviewer is None else false()
        )
    ):
        reviews.setdefault(item_id, []).append((f"adjudicated by {adjudicator}", level))
    return ReviewData(
        job_id=job_id,
        model=model.name,
        model_metrics=dict(model.metrics or {}),
        model_created_at=aware(model.created_at).isoformat(),
        data_fingerprint=model.data_fingerprint,
        rows=rows,
        failures=failures,
        attention=model.attention,
        model_version_id=model.id,
        reviews=reviews,
    )


def evidence_by_prediction(session: Session, prediction_ids: Sequence[int]) -> dict[int, Evidence]:
    """The stored evidence by field of each prediction that has any (schema.evidence)."""
    from schema.tables import EvidenceField, EvidencePassage

    shares: dict[int, list[tuple[str, float]]] = {}
    passages: dict[int, list[Passage]] = {}
    for part in chunks(list(prediction_ids)):
        for pid, name, share in session.execute(
            select(EvidenceField.prediction_id, EvidenceField.field, EvidenceField.share)
            .where(EvidenceField.prediction_id.in_(part))
            .order_by(EvidenceField.prediction_id, EvidenceField.share.desc(), EvidenceField.field)
        ):
            shares.setdefault(pid, []).append((name, share))
        for pid, name, start, end, weight, quoted in session.execute(
            select(
                EvidencePassage.prediction_id, EvidencePassage.field, EvidencePassage.char_start,
                EvidencePassage.char_end, EvidencePassage.weight, EvidencePassage.text,
            )
            .where(EvidencePassage.prediction_id.in_(part))
            .order_by(EvidencePassage.prediction_id, EvidencePassage.rank)
        ):  # fmt: skip
            passages.setdefault(pid, []).append(Passage(name, start, end, quoted, weight))
    return {
        pid: Evidence(shares.get(pid, []), passages.get(pid, []))
        for pid in set(shares) | set(passages)
    }


def token_spans(session: Session, prediction_id: int) -> list[TokenSpan]:
    """One prediction's tokens in order, with their spans and weights."""
    from schema.tables import TokenWeight

    # level_weights unprocessed: SQLAlchemy's JSON processing per row, even for the NULL
    # of a one-weight model, was a tenth of an export's time; decoded here when present
    # (SQLite gives text, psycopg has decoded it already). Core, not the ORM: its row
    # loading cost as much again.
    rows = session.connection().execute(
        select(
            TokenWeight.position, TokenWeight.token, TokenWeight.field, TokenWeight.char_start,
            TokenWeight.char_end, TokenWeight.weight,
            type_coerce(TokenWeight.level_weights, Text),
        )
        .where(TokenWeight.prediction_id == prediction_id)
        .order_by(TokenWeight.position)
    ).all()  # fmt: skip
    return [
        TokenSpan(p, t, f, s, e, w, json.loads(lw) if isinstance(lw, str) else lw)
        for p, t, f, s, e, w, lw in rows
    ]
