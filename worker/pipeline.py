"""The work itself, as plain functions of ids: extract -> classify -> export.

Celery tasks (:mod:`worker.tasks`) and the in-process runner (:class:`LocalRunner`) both
call these; neither holds any logic of its own. Each step commits its results in one
transaction and only then hands the next step to the dispatcher, and each step can be
run twice without writing anything twice:

* ``extract_file`` on a file already extracted queues what is still ``waiting``;
* ``classify_items`` skips items already done and documents already predicted by the
  job's model (the unique constraint settles any race);
* ``export_job`` overwrites its files atomically.

A file or row that cannot be processed becomes a failed source file or job item with a
``processing_errors`` row naming the file, the row and the reason; the job goes on.
Only :class:`schema.errors.DatabaseUnavailable` escapes, for the caller to retry.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from billiard.exceptions import SoftTimeLimitExceeded
from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.orm import undefer

from cenr.settings import Settings
from schema.database import session_scope
from schema.errors import (
    CenrError,
    ConfigError,
    DatabaseError,
    InputFileError,
    ModelIncompatibleError,
    ModelUnavailable,
)
from schema.protocol import Protocol as ProtocolText
from schema.tables import (
    PENDING_ITEMS,
    Document,
    Job,
    JobItem,
    ModelVersion,
    Prediction,
    SourceFile,
)
from worker.extract.source import Limits, extract_source
from worker.jobs import mark_queued, queued_files
from worker.store import chunks, document_ids, now, record_error, store_predictions

log = logging.getLogger(__name__)
# Not a problem of the document at hand: the step stops and its caller decides.
STOP_STEP = (DatabaseError, MemoryError, SoftTimeLimitExceeded)


class Dispatcher(Protocol):
    """Hands the next step to whoever runs steps: a Celery queue or the local runner."""

    def extract(self, job_id: str, file_id: int) -> None: ...
    def classify(self, job_id: str, item_ids: list[int]) -> None: ...
    def export(self, job_id: str) -> None: ...


@dataclass
class Context:
    """What a step needs: settings, the database, the dispatcher and loaded models."""

    settings: Settings
    engine: Engine
    dispatcher: Dispatcher
    predictors: dict[str, Any] = field(default_factory=dict)
    # Other workers share the queue: a model this one cannot load is theirs to run,
    # rather than a reason to fail the documents.
    others_may_serve: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def limits(self) -> Limits:
        s = self.settings
        return Limits(
            max_file_bytes=s.max_file_bytes,
            max_unzipped_bytes=int(s.max_unzipped_mb * 2**20),
            max_rows=s.max_rows,
            max_pdf_pages=s.max_pdf_pages,
        )

    def predictor(self, name: str) -> Any:
        """The model version's predictor, loaded once per process on first use."""
        with self._lock:
            if name not in self.predictors:
                from classifier.registry import load_version
                from worker.model_store import ensure_local

                try:
                    with session_scope(self.engine) as session:  # another host: from the store
                        ensure_local(session, self.settings.models_dir, name)
                except OSError as exc:
                    raise ModelIncompatibleError(
                        f"cannot put model {name} under {self.settings.models_dir}: {exc}"
                    ) from exc
                version = load_version(self.settings.models_dir, name)
                self.predictors[name] = version.predictor(batch_size=self.settings.classify_batch)
            return self.predictors[name]


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


def _length_batches(ctx: Context, session: Any, *where: Any) -> list[list[int]]:
    """The pending items matching ``where`` in batches of documents of similar length.

    Batches of similar lengths pad little: the classifier's own length bucketing, carried
    over to the tasks (1.4x the documents per second on BBC News).
    """
    pending = session.scalars(
        select(JobItem.id)
        .join(Document, Document.id == JobItem.document_id)
        .where(JobItem.status.in_(PENDING_ITEMS), *where)
        .order_by(Document.n_chars, JobItem.id)
    )
    return [list(batch) for batch in chunks(list(pending), ctx.settings.classify_batch)]


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
        waiting = JobItem.job_id == job_id, JobItem.status == "waiting"
        files_left = session.scalar(
            select(func.count())
            .select_from(SourceFile)
            .where(SourceFile.job_id == job_id, SourceFile.status == "queued")
        )
        ready = session.scalar(select(func.count()).select_from(JobItem).where(*waiting))
        if not ready or (files_left and ready < ctx.settings.classify_batch):
            return 0
        length = select(Document.n_chars).where(Document.id == JobItem.document_id)
        claim = update(JobItem).where(*waiting).values(status="queued")
        claimed = session.execute(claim.returning(JobItem.id, length.scalar_subquery())).all()
    ordered = [item for item, _ in sorted(claimed, key=lambda row: (row[1], row[0]))]
    return _dispatch(ctx, job_id, [list(b) for b in chunks(ordered, ctx.settings.classify_batch)])


def requeue_job(ctx: Context, job_id: str) -> int:
    """Queue again everything of a job that is not finished; returns the steps queued.

    For a job whose queue messages were lost (a broker restarted without persistence);
    safe at any time, since every step is idempotent.
    """
    with session_scope(ctx.engine) as session:
        job = session.get(Job, job_id)
        if job is None:
            raise ConfigError(f"no job {job_id!r}")
        exporting = job.status == "exporting"
        session.execute(  # all of it now: a later extraction finds nothing left waiting
            update(JobItem)
            .where(JobItem.job_id == job_id, JobItem.status == "waiting")
            .values(status="queued")
        )
        batches = _length_batches(ctx, session, JobItem.job_id == job_id)
    tasks = _dispatch(ctx, job_id, batches)
    if exporting:
        ctx.dispatcher.export(job_id)
    return tasks + exporting + start_job(ctx, job_id)


def extract_file(ctx: Context, job_id: str, file_id: int) -> None:
    """Turn one stored file into documents and job items, then queue their classification."""
    with session_scope(ctx.engine) as session:
        source = session.get(SourceFile, file_id, options=[undefer(SourceFile.content)])
        job = session.get(Job, job_id)
        if source is None or job is None:
            log.warning("job %s file %s no longer exists; nothing to do", job_id, file_id)
            return
        if source.status == "queued":
            _extract(ctx, session, job, source)
        session.execute(
            update(Job).where(Job.id == job_id, Job.status == "queued").values(status="running")
        )
    dispatch_waiting(ctx, job_id)  # queued only once the items are committed
    finish_if_complete(ctx, job_id)


def _extract(ctx: Context, session: Any, job: Job, source: SourceFile) -> None:
    options = job.options or {}
    try:
        found = extract_source(
            source.path,
            source.content or b"",
            ctx.limits,
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
                "status": "waiting" if e.protocol is not None else "failed",
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
    source.status = "extracted"
    source.n_documents = len(good)
    source.content = None  # the documents hold the text now


def _fail_file(session: Any, job_id: str, source: SourceFile, exc: Exception) -> None:
    source.status = "failed"
    source.content = None
    record_error(session, job_id, "extract", exc, source_file_id=source.id)


def classify_items(ctx: Context, job_id: str, item_ids: Sequence[int]) -> None:
    """Classify the documents of these items with the job's model; store what is new."""
    with session_scope(ctx.engine) as session:
        items = list(
            session.scalars(
                select(JobItem).where(JobItem.id.in_(item_ids), JobItem.status.in_(PENDING_ITEMS))
            )
        )
        if not items:
            return
        model = session.scalars(
            select(ModelVersion)
            .join(Job, Job.model_version_id == ModelVersion.id)
            .where(Job.id == job_id)
        ).one()
        for item in items:
            item.status = "running"
        doc_ids = sorted({item.document_id for item in items if item.document_id is not None})
        stored = set(
            session.scalars(
                select(Prediction.document_id).where(
                    Prediction.document_id.in_(doc_ids), Prediction.model_version_id == model.id
                )
            )
        )
        documents = {
            d.id: ProtocolText(d.external_id, d.fields)
            for d in session.scalars(
                select(Document).where(Document.id.in_([i for i in doc_ids if i not in stored]))
            )
        }
        model_id, model_name = model.id, model.name
    failures: dict[int, Exception] = {}
    started = time.perf_counter()
    results = _predict(ctx, model_name, documents, failures) if documents else []
    predicted = time.perf_counter()
    with session_scope(ctx.engine) as session:
        n_weights = store_predictions(session, model_id, results)
        pending = JobItem.id.in_(item_ids) & JobItem.status.in_(PENDING_ITEMS)
        if failures:
            for item in session.scalars(
                select(JobItem).where(pending, JobItem.document_id.in_(list(failures)))
            ):
                item.status, item.finished_at = "failed", now()
                error = failures[item.document_id or -1]
                record_error(session, job_id, "classify", error, item.source_file_id, item.id)
            session.flush()
        session.execute(update(JobItem).where(pending).values(status="done", finished_at=now()))
    log.info(
        "job %s: %d item(s), %d classified in %.2f s, %d token weights stored in %.2f s",
        job_id, len(items), len(results), predicted - started, n_weights,
        time.perf_counter() - predicted,
    )  # fmt: skip
    finish_if_complete(ctx, job_id)


def _predict(
    ctx: Context,
    model_name: str,
    documents: dict[int, ProtocolText],
    failures: dict[int, Exception],
) -> list[tuple[int, Any]]:
    """(document id, prediction) pairs; a document that breaks the model fails alone."""
    try:
        predictor = ctx.predictor(model_name)
    except CenrError as exc:
        if ctx.others_may_serve:
            raise ModelUnavailable(f"cannot load model {model_name}: {exc}") from exc
        failures.update(dict.fromkeys(documents, exc))
        return []
    ids = list(documents)

    def run(subset: list[int]) -> list[Any]:
        protocols = [documents[i] for i in subset]
        if ctx.settings.faithfulness:
            from classifier.faithfulness import annotate

            return annotate(predictor, protocols, seed=ctx.settings.seed)
        return list(predictor.predict(protocols))

    try:
        return list(zip(ids, run(ids), strict=True))
    except STOP_STEP:
        raise
    except Exception:
        log.exception("batch of %d failed; retrying one by one", len(ids))
    results: list[tuple[int, Any]] = []
    for document_id in ids:
        try:
            results.extend(zip([document_id], run([document_id]), strict=True))
        except STOP_STEP:
            raise
        except Exception as exc:
            failures[document_id] = exc
    return results


def finish_if_complete(ctx: Context, job_id: str) -> None:
    """Queue the export once, when no file or item of the job is left pending."""
    with session_scope(ctx.engine) as session:
        files = session.scalar(
            select(func.count())
            .select_from(SourceFile)
            .where(SourceFile.job_id == job_id, SourceFile.status == "queued")
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
            .where(Job.id == job_id, Job.status.in_(("queued", "running")))
            .values(status="exporting")
        ).rowcount  # type: ignore[attr-defined]
    if claimed:
        ctx.dispatcher.export(job_id)


def export_csv(session: Any, job_id: str, path: Path) -> Path:
    """The job's one-row-per-protocol CSV at ``path``."""
    from exporters.results_csv import write_results
    from worker.results import job_rows

    return write_results(path, job_rows(session, job_id))


def _review_inputs(session: Any, job_id: str) -> tuple[Any, Any, Callable[[int], Any]]:
    """What the review exports read: the job's rows, its model's codebook, its tokens."""
    from worker.model_store import codebook_of
    from worker.results import review_data, token_spans

    data = review_data(session, job_id)
    codebook = codebook_of(session, data.model_version_id)
    return data, codebook, lambda prediction_id: token_spans(session, prediction_id)


def export_workbook(session: Any, job_id: str, path: Path, all_levels: bool = False) -> Path:
    """The job's review workbook at ``path``, in the codebook of the job's model; with
    ``all_levels`` (label-wise models only) the Heatmap shows every level's weights."""
    from exporters.workbook import write_review_workbook

    data, codebook, spans_of = _review_inputs(session, job_id)
    if all_levels and data.attention != "labelwise":
        raise ConfigError(
            f"--all-levels needs a label-wise model; job {job_id}'s model {data.model} "
            f"has {data.attention} attention (one weight per token)"
        )
    return write_review_workbook(path, data, codebook, spans_of, all_levels=all_levels)


def export_html(session: Any, job_id: str, path: Path) -> Path:
    """The job's HTML bundle (a zip) at ``path``."""
    from exporters.html_bundle import write_html_bundle

    return write_html_bundle(path, *_review_inputs(session, job_id))


def write_exports(session: Any, job_id: str, out_dir: Path) -> list[Path]:
    """The job's exports: ``predictions.csv``, the review workbook ``review.xlsx`` and the
    HTML bundle ``review-html.zip``."""
    return [
        export_csv(session, job_id, out_dir / "predictions.csv"),
        export_workbook(session, job_id, out_dir / "review.xlsx"),
        export_html(session, job_id, out_dir / "review-html.zip"),
    ]


def export_job(ctx: Context, job_id: str) -> None:
    """Write the job's exports into its folder and mark it done."""
    with session_scope(ctx.engine) as session:
        job = session.get(Job, job_id)
        if job is None or job.status == "done":
            return
        started = time.perf_counter()
        try:
            written = write_exports(session, job_id, Path(job.out_dir))
            log.info("job %s: exported in %.2f s", job_id, time.perf_counter() - started)
        except OSError as exc:
            record_error(
                session, job_id, "export", f"cannot write the exports to {job.out_dir}: {exc}"
            )
            written = []
        job.exports = [str(p) for p in written]
        job.status = "done"
        job.finished_at = now()


def fail_file(ctx: Context, job_id: str, file_id: int, exc: BaseException) -> None:
    """Last resort when extraction keeps failing: the file fails, the job goes on."""
    with session_scope(ctx.engine) as session:
        source = session.get(SourceFile, file_id)
        if source is not None and source.status == "queued":
            _fail_file(session, job_id, source, InputFileError(f"{source.path}: {exc}"))
    dispatch_waiting(ctx, job_id)  # the items other files left waiting for this one
    finish_if_complete(ctx, job_id)


def fail_items(ctx: Context, job_id: str, item_ids: Sequence[int], exc: BaseException) -> None:
    """Last resort when classification keeps failing: its items fail, the job goes on."""
    with session_scope(ctx.engine) as session:
        for item in session.scalars(select(JobItem).where(JobItem.id.in_(item_ids))):
            if item.status in PENDING_ITEMS:
                item.status, item.finished_at = "failed", now()
                record_error(session, job_id, "classify", exc, item.source_file_id, item.id)
    finish_if_complete(ctx, job_id)


def fail_export(ctx: Context, job_id: str, exc: BaseException) -> None:
    with session_scope(ctx.engine) as session:
        job = session.get(Job, job_id)
        if job is not None and job.status != "done":
            record_error(session, job_id, "export", exc)
            job.status, job.finished_at, job.exports = "done", now(), []


# step name -> (work, what to do when the work fails for good)
STEPS: dict[str, tuple[Callable[..., None], Callable[..., None]]] = {
    "extract": (extract_file, fail_file),
    "classify": (classify_items, fail_items),
    "export": (export_job, fail_export),
}


def run_step(ctx: Context, name: str, *args: Any) -> None:
    """Run a step; if it fails for good, record the failure so the job still ends."""
    work, give_up = STEPS[name]
    try:
        work(ctx, *args)
    except DatabaseError:
        raise
    except Exception as exc:
        log.exception("step %s%r failed", name, args)
        give_up(ctx, *args, exc)


class LocalRunner:
    """Runs dispatched steps in this process, in order (the embedded default)."""

    def __init__(self, on_step: Callable[[], None] | None = None) -> None:
        self.steps: deque[tuple[str, tuple[Any, ...]]] = deque()
        self.ctx: Context | None = None
        self.on_step = on_step

    def extract(self, job_id: str, file_id: int) -> None:
        self.steps.append(("extract", (job_id, file_id)))

    def classify(self, job_id: str, item_ids: list[int]) -> None:
        self.steps.append(("classify", (job_id, item_ids)))

    def export(self, job_id: str) -> None:
        self.steps.append(("export", (job_id,)))

    def drain(self) -> None:
        assert self.ctx is not None, "LocalRunner.ctx is set by its creator"
        while self.steps:
            name, args = self.steps.popleft()
            run_step(self.ctx, name, *args)
            if self.on_step:
                self.on_step()
