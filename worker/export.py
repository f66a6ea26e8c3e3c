"""The export stage's step: a finished job -> its CSV, review workbook and HTML bundle.

Stage: export. Reads the job through :mod:`worker.results` (the read model, filled) and
hands it to :mod:`exporters`; may touch the job's row (its exports and its end) and the
error log, and knows no other stage.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from schema.database import session_scope
from schema.errors import ConfigError
from schema.states import JobState
from schema.tables import Job
from worker.context import Context
from worker.settings import get_settings
from worker.store import now, record_error

log = logging.getLogger(__name__)


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
    """The job's review workbook at ``path``, every protocol in one, in the codebook of
    the job's model; with ``all_levels`` (label-wise models only) the Heatmap shows every
    level's weights."""
    from exporters.workbook import write_review_workbook

    data, codebook, spans_of = _workbook_inputs(session, job_id, all_levels)
    return write_review_workbook(path, data, codebook, spans_of, all_levels=all_levels)


def export_workbooks(
    session: Any,
    job_id: str,
    path: Path,
    per_workbook: int | None = None,
    reviewers: Sequence[str] = (),
    overlap: float = 0.0,
    all_levels: bool = False,
) -> list[Path]:
    """The job's review workbooks, at most ``per_workbook`` protocols each (default: the
    job's ``--per-workbook``, else CENR_PER_WORKBOOK), dealt to ``reviewers`` with a
    shared ``overlap`` when given: :mod:`exporters.dealing`. ``path`` names the first."""
    from exporters.workbook import write_review_workbooks

    job = session.get(Job, job_id)
    if per_workbook is None:
        options = (job.options if job is not None else None) or {}
        per_workbook = int(options.get("per_workbook") or get_settings().per_workbook)
    data, codebook, spans_of = _workbook_inputs(session, job_id, all_levels)
    return write_review_workbooks(
        path, data, codebook, spans_of, per_workbook, reviewers, overlap, all_levels
    )


def _workbook_inputs(
    session: Any, job_id: str, all_levels: bool
) -> tuple[Any, Any, Callable[[int], Any]]:
    data, codebook, spans_of = _review_inputs(session, job_id)
    if all_levels and data.attention != "labelwise":
        raise ConfigError(
            f"--all-levels needs a label-wise model; job {job_id}'s model {data.model} "
            f"has {data.attention} attention (one weight per token)"
        )
    return data, codebook, spans_of


def export_html(session: Any, job_id: str, path: Path) -> Path:
    """The job's HTML bundle (a zip) at ``path``."""
    from exporters.html_bundle import write_html_bundle

    return write_html_bundle(path, *_review_inputs(session, job_id))


def write_exports(session: Any, job_id: str, out_dir: Path) -> list[Path]:
    """The job's exports: ``predictions.csv``, the review workbook ``review.xlsx`` (or
    ``review-1.xlsx``, ``review-2.xlsx``, ... for a job over its ``--per-workbook``) and
    the HTML bundle ``review-html.zip``."""
    return [
        export_csv(session, job_id, out_dir / "predictions.csv"),
        *export_workbooks(session, job_id, out_dir / "review.xlsx"),
        export_html(session, job_id, out_dir / "review-html.zip"),
    ]


def export_job(ctx: Context, job_id: str) -> None:
    """Write the job's exports into its folder and mark it done."""
    with session_scope(ctx.engine) as session:
        job = session.get(Job, job_id)
        if job is None or job.status == JobState.DONE:
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
        job.status = JobState.DONE
        job.finished_at = now()


def fail_export(ctx: Context, job_id: str, exc: BaseException) -> None:
    with session_scope(ctx.engine) as session:
        job = session.get(Job, job_id)
        if job is not None and job.status != JobState.DONE:
            record_error(session, job_id, "export", exc)
            job.status, job.finished_at, job.exports = JobState.DONE, now(), []
