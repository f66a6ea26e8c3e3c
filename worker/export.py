"""The export stage's step: a finished job -> its CSV, review workbook and HTML bundle.

Stage: export. Reads the job through :mod:`worker.results` (the read model, filled) and
hands it to :mod:`exporters`; may touch the job's row (its exports and its end) and the
error log, and knows no other stage.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
import zipfile
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from schema.database import session_scope
from schema.errors import CenrError, ConfigError
from schema.states import ItemState, JobState
from schema.tables import Job, JobItem, Review
from worker.context import Context
from worker.settings import get_settings
from worker.store import now, record_error

log = logging.getLogger(__name__)


def export_csv(session: Any, job_id: str, path: Path) -> Path:
    """The job's one-row-per-protocol CSV at ``path``."""
    from exporters.results_csv import write_results
    from worker.results import job_rows

    return write_results(path, job_rows(session, job_id))


def review_inputs(
    session: Any, job_id: str, reviewer: str | None = None
) -> tuple[Any, Any, Callable[[int], Any]]:
    """What the review exports read: the job's rows, its model's codebook, its tokens;
    with ``reviewer``, only that reviewer's levels (a reviewer's own download)."""
    from worker.model_store import codebook_of
    from worker.results import review_data, token_spans

    data = review_data(session, job_id, reviewer=reviewer)
    codebook = codebook_of(session, data.model_version_id)
    return data, codebook, lambda prediction_id: token_spans(session, prediction_id)


def export_workbook(session: Any, job_id: str, path: Path, all_levels: bool = False) -> Path:
    """The job's review workbook at ``path``, every protocol in one, in the codebook of
    the job's model; ``all_levels`` insists on a label-wise model (every level's weights
    are in the HTML bundle; the workbook shows the predicted level's passages)."""
    from exporters.workbook import write_review_workbook

    data, codebook, spans_of = _workbook_inputs(session, job_id, all_levels)
    target = free_target(session, path, [])
    return write_review_workbook(target, data, codebook, spans_of, all_levels=all_levels)


def per_workbook_of(session: Any, job_id: str) -> int:
    """The job's ``--per-workbook``, else CENR_PER_WORKBOOK."""
    job = session.get(Job, job_id)
    options = (job.options if job is not None else None) or {}
    return int(options.get("per_workbook") or get_settings().per_workbook)


def export_workbooks(
    session: Any,
    job_id: str,
    path: Path,
    per_workbook: int | None = None,
    reviewers: Sequence[str] = (),
    overlap: float = 0.0,
    all_levels: bool = False,
    inputs: tuple[Any, Any, Callable[[int], Any]] | None = None,
    only: Collection[int] | None = None,
    kept: list[Kept] | None = None,
    blind: bool = False,
) -> list[Path]:
    """The job's review workbooks, at most ``per_workbook`` protocols each (default:
    :func:`per_workbook_of`), dealt to ``reviewers`` with a shared ``overlap`` when given:
    :mod:`exporters.dealing`. ``path`` names the first; ``only`` picks some of them. A
    workbook holding reviewer levels never imported is never written over
    (:func:`free_target`); ``kept`` collects those left in place. ``blind``: the
    protocol text alone, nothing the model said (a blind round)."""
    from exporters.workbook import write_review_workbooks

    if per_workbook is None:
        per_workbook = per_workbook_of(session, job_id)
    data, codebook, spans_of = inputs or _workbook_inputs(session, job_id, all_levels)
    held: list[Kept] = [] if kept is None else kept
    return write_review_workbooks(
        path, data, codebook, spans_of, per_workbook, reviewers, overlap, all_levels, only,
        target_of=lambda target: free_target(session, target, held), blind=blind,
    )  # fmt: skip


# -- never over a reviewer's work --------------------------------------------------
@dataclass(frozen=True)
class Kept:
    """A review workbook left in place for the reviewer levels in it never imported, and
    the new workbook written beside it instead."""

    path: Path
    levels: int
    beside: Path

    @property
    def note(self) -> str:
        return (
            f"{self.path} holds {self.levels} reviewer level(s) never imported: kept as it "
            f"is, the new workbook is {self.beside.name} (import the filled one: "
            f'`cenr review import "{self.path}"`)'
        )


def unimported_levels(session: Any, path: Path) -> int:
    """How many Reviewer levels of the review workbook at ``path`` (none: no such file, or
    not a review workbook) the reviews table does not hold: a level counts as imported
    when the job item has that level stored under the row's reviewer (the Reviewer cell,
    else whom the workbook was dealt to; with no name, under anyone's). A level the
    codebook does not know, or of a job this database does not have, was never imported."""
    from exporters.returned import filled_levels
    from worker.model_store import codebook_of

    filled = filled_levels(path)
    if filled is None or not filled.levels:
        return 0
    job = session.get(Job, filled.job)
    if job is None:
        return len(filled.levels)
    codebook = codebook_of(session, job.model_version_id)
    stored: dict[object, dict[str, str]] = {}
    for review in session.scalars(select(Review).where(Review.job_id == filled.job)):
        stored.setdefault(review.job_item_id, {})[review.reviewer] = review.level_code
    missing = 0
    for row in filled.levels:
        try:
            code = codebook.levels[codebook.index_of(row.level)].code
        except CenrError:
            missing += 1
            continue
        levels = stored.get(row.item_id, {})
        name = row.reviewer[:200]
        missing += (levels.get(name) != code) if name else (code not in levels.values())
    return missing


def free_target(session: Any, target: Path, kept: list[Kept]) -> Path:
    """Where to write a review workbook meant for ``target``: ``target`` itself unless the
    workbook there holds reviewer levels never imported (:func:`unimported_levels`); then
    the first of ``name (2).xlsx``, ``name (3).xlsx``, ... that does not, each workbook
    passed over added to ``kept`` (and logged)."""
    held: list[tuple[Path, int]] = []
    candidate = target
    while levels := unimported_levels(session, candidate):
        held.append((candidate, levels))
        candidate = target.with_name(f"{target.stem} ({len(held) + 1}){target.suffix}")
    for path, levels in held:
        kept.append(Kept(path, levels, candidate))
        log.warning("%s", kept[-1].note)
    return candidate


def _workbook_inputs(
    session: Any, job_id: str, all_levels: bool
) -> tuple[Any, Any, Callable[[int], Any]]:
    data, codebook, spans_of = review_inputs(session, job_id)
    if all_levels and data.attention != "labelwise":
        raise ConfigError(
            f"--all-levels needs a label-wise model; job {job_id}'s model {data.model} "
            f"has {data.attention} attention (one weight per token)"
        )
    return data, codebook, spans_of


def export_html(
    session: Any,
    job_id: str,
    path: Path,
    inputs: tuple[Any, Any, Any] | None = None,
    blind: bool = False,
) -> Path:
    """The job's HTML bundle (a zip) at ``path``; ``blind``: the text alone."""
    from exporters.html_bundle import write_html_bundle

    data, codebook, spans_of = inputs or review_inputs(session, job_id)
    return write_html_bundle(path, data, codebook, spans_of, blind=blind)


# -- a job's exports, in one process or two ------------------------------------------
CSV, WORKBOOK, BUNDLE = "predictions.csv", "review.xlsx", "review-html.zip"
# Seconds per protocol of the bundle against a workbook's (bench/workbook_export.py,
# 300 protocols of 3,000 tokens: 15.4 s against 29.2 s): how the pieces are balanced.
BUNDLE_COST = 0.5


@dataclass(frozen=True)
class ExportPiece:
    """Files of a job's exports: the CSV, some of its workbooks, or the bundle."""

    kind: str  # "csv", "xlsx" or "html"
    parts: tuple[int, ...] = ()  # xlsx: which of the job's workbooks (0-based)
    cost: float = 0.0  # in protocols' worth of workbook writing

    @classmethod
    def of(cls, message: dict[str, Any]) -> ExportPiece:
        """From a task's JSON arguments."""
        return cls(message["kind"], tuple(message.get("parts", ())), message.get("cost", 0.0))

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.parts[0] if self.parts else 0}"


def _classified(session: Any, job_id: str) -> int:
    return int(
        session.scalar(
            select(func.count(JobItem.id)).where(
                JobItem.job_id == job_id, JobItem.status == ItemState.DONE
            )
        )
    )


def workbook_count(session: Any, job_id: str) -> int:
    """How many review workbooks the job's exports hold (its ``--per-workbook``)."""
    return max(1, -(-_classified(session, job_id) // per_workbook_of(session, job_id)))


def export_plan(session: Any, job_id: str, per_piece: int = 1) -> list[ExportPiece]:
    """The job's export files, ``per_piece`` workbooks a piece, costliest first."""
    n, size = _classified(session, job_id), per_workbook_of(session, job_id)
    count = workbook_count(session, job_id)
    parts = [
        ExportPiece("xlsx", tuple(ks), sum(min(size, n - k * size) for k in ks))
        for ks in (range(i, min(i + per_piece, count)) for i in range(0, count, per_piece))
    ]
    pieces = [ExportPiece("html", cost=BUNDLE_COST * n), *parts, ExportPiece("csv")]
    return sorted(pieces, key=lambda p: -p.cost)


def write_pieces(
    session: Any,
    job_id: str,
    out_dir: Path,
    pieces: Sequence[ExportPiece],
    kept: list[Kept] | None = None,
) -> list[Path]:
    """Write these pieces of the job's exports, reading the job once; ``kept`` collects
    the workbooks left in place for a reviewer's levels (:func:`free_target`)."""
    inputs = _workbook_inputs(session, job_id, all_levels=False)
    written = []
    if any(p.kind == "csv" for p in pieces):
        written.append(export_csv(session, job_id, out_dir / CSV))
    parts = {k for p in pieces if p.kind == "xlsx" for k in p.parts}
    if parts:
        written += export_workbooks(
            session, job_id, out_dir / WORKBOOK, inputs=inputs, only=parts, kept=kept
        )
    if any(p.kind == "html" for p in pieces):
        written.append(export_html(session, job_id, out_dir / BUNDLE, inputs))
    return written


def _write_in_child(
    database_url: str, job_id: str, out_dir: str, pieces: list[ExportPiece]
) -> tuple[list[str], list[Kept]]:
    """A spawned process's share of the exports, on an engine of its own."""
    from schema.database import open_database

    engine = open_database(database_url)
    kept: list[Kept] = []
    try:
        with session_scope(engine) as session:
            written = write_pieces(session, job_id, Path(out_dir), pieces, kept)
            return [str(p) for p in written], kept
    finally:
        engine.dispose()


def balance(pieces: Sequence[ExportPiece], processes: int) -> list[list[ExportPiece]]:
    """The pieces in ``processes`` groups of about equal cost (costliest first, each to
    the group with the least so far)."""
    groups: list[list[ExportPiece]] = [[] for _ in range(processes)]
    loads = [0.0] * processes
    for piece in sorted(pieces, key=lambda p: -p.cost):
        least = loads.index(min(loads))
        groups[least].append(piece)
        loads[least] += piece.cost
    return [group for group in groups if group]


def write_exports(
    session: Any,
    job_id: str,
    out_dir: Path,
    processes: int = 1,
    database_url: str = "",
    kept: list[Kept] | None = None,
) -> list[Path]:
    """The job's exports: ``predictions.csv``, the review workbook ``review.xlsx`` (or
    ``review-1.xlsx``, ``review-2.xlsx``, ... for a job over its ``--per-workbook``) and
    the reviewer's package ``review-html.zip``: the HTML bundle with the workbooks in it
    (:func:`package`, once they are all written).

    With ``processes`` > 1 (``cenr run``: CENR_EXPORT_PROCESSES) the files are written by
    that many spawned processes at once, each reading the job from ``database_url``, so
    that a big job's exports use every core. (A Celery worker's process cannot have
    children: distributed, :func:`export_job` hands the files out as tasks instead.)
    A workbook a reviewer filled in is never written over: ``kept`` collects it."""
    pieces = export_plan(session, job_id)
    groups = balance(pieces, processes) if processes > 1 and database_url else [pieces]
    kept = [] if kept is None else kept
    if len(groups) == 1:
        written = write_pieces(session, job_id, out_dir, pieces, kept)
    else:
        context = multiprocessing.get_context("spawn")  # never fork a process holding TF
        with ProcessPoolExecutor(len(groups), mp_context=context) as pool:
            futures = [
                pool.submit(_write_in_child, database_url, job_id, str(out_dir), group)
                for group in groups
            ]
            results = [future.result() for future in futures]
        written = [Path(p) for paths, _ in results for p in paths]
        kept += [k for _, child_kept in results for k in child_kept]
    return package(in_order(written))


def package(written: Sequence[Path]) -> list[Path]:
    """Make the written bundle the reviewer's package: the written review workbooks go
    into it beside its pages (:func:`exporters.package.add_workbooks`), so that after
    unzipping each row's link opens its protocol's page. Called once every piece is
    written (the workbooks and the bundle come from different processes); ``written``
    is returned as it is."""
    from exporters.package import add_workbooks

    bundles = [p for p in written if p.name == BUNDLE]
    workbooks = [p for p in written if p.suffix.lower() == ".xlsx"]
    for bundle in bundles:
        add_workbooks(bundle, [p for p in workbooks if p.parent == bundle.parent])
    return list(written)


def in_order(paths: Iterable[Path]) -> list[Path]:
    """The CSV, the workbooks by name, the bundle."""
    order = {CSV: 0, BUNDLE: 2}
    return sorted(set(paths), key=lambda p: (order.get(p.name, 1), p.name))


def export_job(ctx: Context, job_id: str, piece: dict[str, Any] | None = None) -> None:
    """Write the job's exports into its folder and mark it done.

    Embedded (``cenr run``), every file at once, in CENR_EXPORT_PROCESSES processes.
    Distributed, the export step is handed out as one task per file (the CSV, each
    workbook, the bundle), so the workers share a big job's exports; each task records
    its file on the job (``options["exported"]``, the job's row locked), and the last
    one marks the job done. Handing it out again (``cenr requeue``, the stall sweeper)
    queues only the files not yet written."""
    if piece is not None:
        _export_piece(ctx, job_id, ExportPiece.of(piece))
        return
    with session_scope(ctx.engine) as session:
        job = session.get(Job, job_id)
        if job is None or job.status == JobState.DONE:
            return
        if ctx.settings.broker_url:
            # a task reads the job's rows once: it writes workbooks of about
            # CENR_EXPORT_TASK_PROTOCOLS protocols, not one of a year's dozens
            per_task = ctx.settings.export_task_protocols
            per_piece = max(1, per_task // per_workbook_of(session, job_id))
            plan = export_plan(session, job_id, per_piece)
            finished = set((job.options or {}).get("exported", []))
            job.options = {**(job.options or {}), "export_plan": [p.key for p in plan]}
            pending = [p for p in plan if p.key not in finished]
            session.flush()
        else:
            pending = []
            _write_all(ctx, session, job)
    for each in pending:  # after the commit: a task never sees the plan missing
        ctx.dispatcher.export(job_id, asdict(each))


def _write_all(ctx: Context, session: Any, job: Job) -> None:
    started = time.perf_counter()
    kept: list[Kept] = []
    try:
        written = write_exports(
            session, job.id, Path(job.out_dir), processes=ctx.settings.export_processes,
            database_url=ctx.settings.resolved_database_url, kept=kept,
        )  # fmt: skip
        log.info("job %s: exported in %.2f s", job.id, time.perf_counter() - started)
    except (OSError, zipfile.BadZipFile) as exc:
        record_error(session, job.id, "export", f"cannot write the exports to {job.out_dir}: {exc}")
        written = []
    job.exports = [str(p) for p in written]
    _note_kept(job, kept)
    job.status = JobState.DONE
    job.finished_at = now()


def _export_piece(ctx: Context, job_id: str, piece: ExportPiece) -> None:
    """One file of a distributed job's exports; the job is done when its last is."""
    with session_scope(ctx.engine) as session:
        job = session.get(Job, job_id)
        if job is None or job.status == JobState.DONE:
            return
        out_dir = Path(job.out_dir)
        started = time.perf_counter()
        kept: list[Kept] = []
        try:
            written = write_pieces(session, job_id, out_dir, [piece], kept)
            log.info("job %s: %s exported in %.2f s", job_id, piece.key,
                     time.perf_counter() - started)  # fmt: skip
        except OSError as exc:
            record_error(session, job_id, "export", f"cannot write the exports to {out_dir}: {exc}")
            written = []
    _piece_finished(ctx, job_id, piece, written, kept)


def _note_kept(job: Job, kept: Sequence[Kept]) -> None:
    """Say on the job which workbooks were left in place for a reviewer's levels
    (``options["kept"]``, which ``cenr run``'s summary prints)."""
    if kept:
        notes = [*(job.options or {}).get("kept", []), *(k.note for k in kept)]
        job.options = {**(job.options or {}), "kept": notes}


def _piece_finished(
    ctx: Context,
    job_id: str,
    piece: ExportPiece,
    written: Sequence[Path],
    kept: Sequence[Kept] = (),
) -> None:
    """Record a written (or failed) file on the job, its row locked against the other
    workers' pieces; the last one marks the job done."""
    with session_scope(ctx.engine) as session:
        job = session.get(Job, job_id, with_for_update=True)
        if job is None or job.status == JobState.DONE:
            return
        options = dict(job.options or {})
        finished = set(options.get("exported", [])) | {piece.key}
        options["exported"] = sorted(finished)
        job.options = options
        exports = [Path(p) for p in job.exports or []] + list(written)
        job.exports = [str(p) for p in in_order(exports)]
        _note_kept(job, kept)
        if finished >= set(options.get("export_plan", [])):
            try:  # the last piece: every workbook is written, the package can be made
                package(in_order(exports))
            except (OSError, ValueError, zipfile.BadZipFile) as exc:
                record_error(session, job_id, "export", f"cannot add the workbooks to the "
                             f"HTML bundle: {exc}")  # fmt: skip
            job.status = JobState.DONE
            job.finished_at = now()


def fail_export(ctx: Context, job_id: str, *args: Any) -> None:
    """An export step that failed for good: its file is recorded as failed (one file of
    a distributed job's) or the job ends without its exports."""
    *piece, exc = args
    if piece and piece[0] is not None:
        with session_scope(ctx.engine) as session:
            record_error(session, job_id, "export", exc)
        _piece_finished(ctx, job_id, ExportPiece.of(piece[0]), [])
        return
    with session_scope(ctx.engine) as session:
        job = session.get(Job, job_id)
        if job is not None and job.status != JobState.DONE:
            record_error(session, job_id, "export", exc)
            job.status, job.finished_at, job.exports = JobState.DONE, now(), []
