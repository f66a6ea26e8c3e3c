"""The classify stage's step: a batch of job items -> predictions, stored.

Stage: classify (and store, through :mod:`worker.store`). May touch the job items it was
given, the predictions and token weights, and the error log; it loads models through the
context, hands on to :mod:`worker.dispatch` and knows no other stage. A batch that breaks
the model is retried one protocol at a time, so one bad protocol fails alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update

from schema.database import session_scope
from schema.errors import CenrError, ModelUnavailable
from schema.protocol import Protocol as ProtocolText
from schema.states import PENDING_ITEMS, ItemState
from schema.tables import Document, Job, JobItem, ModelVersion, Prediction
from worker.context import STOP_STEP, Context
from worker.dispatch import finish_if_complete
from worker.store import now, record_error, store_predictions

log = logging.getLogger(__name__)


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
        begun = now()
        for item in items:
            item.status, item.started_at = ItemState.RUNNING, begun
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
    erasure = [0.0]  # seconds of the erasure test within the classification
    results = _predict(ctx, model_name, documents, failures, erasure) if documents else []
    predicted = time.perf_counter()
    with session_scope(ctx.engine) as session:
        n_weights = store_predictions(session, model_id, results)
        pending = JobItem.id.in_(item_ids) & JobItem.status.in_(PENDING_ITEMS)
        if failures:
            for item in session.scalars(
                select(JobItem).where(pending, JobItem.document_id.in_(list(failures)))
            ):
                item.status, item.finished_at = ItemState.FAILED, now()
                error = failures[item.document_id or -1]
                record_error(session, job_id, "classify", error, item.source_file_id, item.id)
            session.flush()
        session.execute(
            update(JobItem).where(pending).values(status=ItemState.DONE, finished_at=now())
        )
    log.info(
        "job %s: %d item(s), %d classified in %.2f s (erasure test %.2f s), %d token weights "
        "stored in %.2f s",
        job_id, len(items), len(results), predicted - started, erasure[0], n_weights,
        time.perf_counter() - predicted,
    )  # fmt: skip
    finish_if_complete(ctx, job_id)


def _predict(
    ctx: Context,
    model_name: str,
    documents: dict[int, ProtocolText],
    failures: dict[int, Exception],
    erasure: list[float],
) -> list[tuple[int, Any]]:
    """(document id, prediction) pairs; a document that breaks the model fails alone.
    ``erasure[0]`` gathers the seconds the erasure test took."""
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

            return annotate(predictor, protocols, seed=ctx.settings.seed, erasure_seconds=erasure)
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


def fail_items(ctx: Context, job_id: str, item_ids: Sequence[int], exc: BaseException) -> None:
    """Last resort when classification keeps failing: its items fail, the job goes on."""
    with session_scope(ctx.engine) as session:
        for item in session.scalars(select(JobItem).where(JobItem.id.in_(item_ids))):
            if item.status in PENDING_ITEMS:
                item.status, item.finished_at = ItemState.FAILED, now()
                record_error(session, job_id, "classify", exc, item.source_file_id, item.id)
    finish_if_complete(ctx, job_id)
