"""Jobs: the list, uploading protocols, one job's page, its downloads and one protocol's
heat-map page; and the data these pages share with their JSON twins in :mod:`api`."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from cenr.portal.bounds import bounded
from cenr.portal.deps import (
    PAGE_NOT_FOUND,
    PAGE_SIGNED_IN,
    Admin,
    Checked,
    Db,
    SignedIn,
    UploadFolder,
    VisibleJob,
    engine_of,
    html,
    page,
    settings_of,
)
from cenr.portal.uploads import PROTOCOL_TYPES, save_upload
from schema.errors import NotFound
from schema.states import ItemState
from schema.tables import Job, ModelVersion, User

router = APIRouter()


def public(status: dict[str, Any]) -> dict[str, Any]:
    """A job's status without the server's paths."""
    status.pop("out_dir", None)
    status.pop("exports", None)
    return status


def jobs_overview(session: Session, lost_after: float | None, user: User) -> list[dict[str, Any]]:
    """The newest 200 jobs the user may see, with their counts (``lost_after``: see
    ``job_status``): every job for an admin, a reviewer's assigned jobs."""
    from worker.results import job_status
    from worker.review.assignments import visible_job_ids

    query = select(Job.id).order_by(Job.created_at.desc()).limit(200)
    visible = visible_job_ids(session, user)
    if visible is not None:
        query = query.where(Job.id.in_(visible))
    ids = session.scalars(query)
    return [public(job_status(session, job_id, lost_after).to_dict()) for job_id in ids]


def job_detail(
    session: Session, job_id: str, lost_after: float | None, user: User
) -> dict[str, Any]:
    """A job's counts, its protocols and, for an admin, its reviewers, their agreement,
    the suspect labels, the round dealt and how far it has come (a reviewer sees the
    model's output, not others' levels; a reviewer of a blind round, not the model's).
    Each classified protocol's ``model``: its level as ``4 Consult``, confidence as a
    percentage and its band, the heat-map's strength and the reasons for a second look."""
    from cenr.portal.overview import model_views
    from cenr.portal.rounds import blind_for, current_round, parts_of, round_dict
    from exporters.agreement_text import agreement_lines
    from exporters.label_checks import label_check_lines
    from worker.results import job_rows, job_status
    from worker.review.agreement import agreement
    from worker.review.assignments import assigned_to
    from worker.review.label_checks import latest_label_check

    status = public(job_status(session, job_id, lost_after).to_dict())
    blind = blind_for(session, job_id, user)
    seen: dict[str, Any] = {"views": {}, "levels": 0, "progress": None}
    if not blind and status["done"]:
        seen = model_views(session, job_id, own_only(user))
    status["protocols"] = [  # "item": the protocol's page, for those classified
        {"item": r.item_id if r.status == ItemState.DONE else None, "file": r.file,
         "row": r.position, "protocol_id": r.protocol_id, "status": r.status,
         "level": r.level_code, "confidence": r.confidence,
         "faithfulness": r.faithfulness, "error": r.error,
         "model": seen["views"].get(r.item_id)}
        for r in job_rows(session, job_id)
    ]  # fmt: skip
    if blind:  # a blind round: the protocols alone, nothing the model said
        for protocol in status["protocols"]:
            protocol.update(level=None, confidence=None, faithfulness=None)
    status["blind"] = blind
    status["levels"] = seen["levels"]
    if user.role != "admin":
        return status
    found = current_round(session, job_id)
    status["round"] = round_dict(found)
    if found is not None:
        status["round"]["workbooks"] = parts_of(session, job_id, found)
    status["progress"] = seen["progress"]
    status["reviewers"] = assigned_to(session, job_id)
    status["agreement"] = agreement(session, job_id)
    status["agreement_lines"] = agreement_lines(status["agreement"])
    check = latest_label_check(session, job_id)  # `cenr review issues` stored it
    status["label_check_lines"] = label_check_lines(check) if check else []
    return status


def own_only(user: User) -> str | None:
    """Whose levels the user may see: a reviewer their own (None: an admin, everyone's)."""
    return None if user.role == "admin" else user.username


def _start_job(request: Request, paths: list[Path], model: str | None) -> str:
    from worker.submit import pipeline_context, queue_job, submit_paths

    settings, engine = settings_of(request), engine_of(request)
    job_id = submit_paths(
        settings, engine, paths, model or None, None, "portal",
        {"text_columns": [], "id_column": ""},
    )  # fmt: skip
    ctx, runner = pipeline_context(settings, engine)
    queue_job(ctx, job_id)
    if runner is not None:  # embedded: the steps run in a thread of this process
        threading.Thread(target=runner.drain, name=f"job-{job_id}", daemon=True).start()
    return job_id


async def upload_protocols(request: Request, files: list[UploadFile], model: str | None) -> str:
    """Start a job from uploaded protocol files; returns its id."""
    from schema.database import session_scope
    from worker.backpressure import check_capacity

    settings = settings_of(request)
    with session_scope(engine_of(request)) as session:  # refuse before writing to disk
        check_capacity(session, settings)
    with UploadFolder(settings) as folder:  # the job keeps the bytes: the folder can go
        for upload in files:
            limit, _ = settings.size_limits.of(upload.filename or "")
            save_upload(upload.file, upload.filename or "", folder, limit, PROTOCOL_TYPES)
        return _start_job(request, [folder], model)


def _written_for_request(write: Callable[[Path], Path]) -> Response:
    """The file ``write`` puts in a scratch folder, sent, and the folder removed after.
    Writing holds a download slot (:mod:`bounds`): a burst of downloads queues, then 503."""
    folder = Path(tempfile.mkdtemp())
    try:
        with bounded("download"):
            path = write(folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(
        path, filename=path.name,
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )  # fmt: skip


def download(
    session: Session,
    job_id: str,
    kind: str,
    user: User,
    part: int = 1,
    workbooks: Callable[[Path], list[Path]] | None = None,
    blind: bool = False,
) -> Response:
    """The job's review workbook (``xlsx``; of a job split by ``--per-workbook``, workbook
    ``part``) or reviewer's package (the HTML bundle with the review workbooks in it, each
    row's Protocol ID a link to its page: :mod:`exporters.package`), written for this
    request; a reviewer's holds their own levels and no one else's. ``workbooks`` writes
    the package's workbooks into a folder (default: all of the job's, with the user's
    levels); ``blind``: the pages leave out the model (a blind round's reviewer)."""
    from exporters.package import add_workbooks
    from worker.export import export_html, export_workbooks, review_inputs, workbook_count

    inputs = review_inputs(session, job_id, own_only(user))

    def write(folder: Path) -> Path:
        if kind != "xlsx":
            books = folder / "workbooks"  # beside the bundle, never in its way
            books.mkdir()
            if workbooks is not None:
                written = workbooks(books)
            else:
                written = export_workbooks(
                    session, job_id, books / f"review-{job_id}.xlsx", inputs=inputs
                )
            bundle = folder / f"review-{job_id}-html.zip"
            return add_workbooks(export_html(session, job_id, bundle, inputs, blind), written)
        parts = workbook_count(session, job_id)
        if not 1 <= part <= parts:
            raise NotFound(f"job {job_id} has {parts} review workbook(s): no workbook {part}")
        [path] = export_workbooks(
            session, job_id, folder / f"review-{job_id}.xlsx", inputs=inputs, only={part - 1}
        )
        return path

    return _written_for_request(write)


@router.get("/", include_in_schema=False)
def jobs_page(request: Request, session: Db, user: SignedIn) -> Response:
    models = session.scalars(select(ModelVersion.name).order_by(ModelVersion.created_at))
    jobs = jobs_overview(session, settings_of(request).lost_after, user)
    return page(request, "jobs.html", user, jobs=jobs, models=list(models))


@router.post("/jobs", include_in_schema=False, dependencies=[Checked])
async def upload_page(
    request: Request,
    user: Admin,
    files: Annotated[list[UploadFile], File()],
    model: Annotated[str, Form()] = "",
) -> Response:
    job_id = await upload_protocols(request, files, model)
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


@router.get("/jobs/{job_id}", include_in_schema=False)
def job_page(request: Request, session: Db, user: SignedIn, job_id: VisibleJob) -> Response:
    from cenr.portal.rounds import parts_of, round_of
    from worker.export import workbook_count

    detail = job_detail(session, job_id, settings_of(request).lost_after, user)
    found = round_of(session, job_id, user)
    workbooks = (
        parts_of(session, job_id, found).get(user.username, 1)
        if found is not None
        else workbook_count(session, job_id)
    )
    return page(request, "job.html", user, job=detail, workbooks=workbooks)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOWNLOADS = {**PAGE_SIGNED_IN, **PAGE_NOT_FOUND}


@router.get(
    "/jobs/{job_id}/review.xlsx", tags=["downloads"], response_class=FileResponse,
    responses={200: {"content": {XLSX: {}}, "description": "The workbook."}, **DOWNLOADS},
)  # fmt: skip
def workbook_download(session: Db, user: SignedIn, job_id: VisibleJob, part: int = 1) -> Response:
    """The job's review workbook, with every level imported so far; a job over its
    ``--per-workbook`` has several, least certain first: ``?part=N``. A reviewer of a
    round dealt from the job page gets their part of it (blind: the protocol text alone)."""
    from cenr.portal.rounds import round_of, round_workbook

    found = round_of(session, job_id, user)
    if found is None:
        return download(session, job_id, "xlsx", user, part)
    return _written_for_request(
        lambda folder: round_workbook(session, job_id, user, found, part, folder)
    )


@router.get(
    "/jobs/{job_id}/next.xlsx", tags=["downloads"], response_class=FileResponse,
    responses={200: {"content": {XLSX: {}}, "description": "The workbook."}, **DOWNLOADS,
               403: html("Signed in as a reviewer: this needs an admin.")},
)  # fmt: skip
def next_download(
    session: Db, user: Admin, job_id: VisibleJob, n: Annotated[int, Query(ge=1, le=1000)] = 20
) -> Response:
    """A review workbook of the job's ``n`` protocols most worth a reviewer's time (model
    uncertainty, reviewer disagreement, suspect score: `cenr review next`); it imports back
    like the job's review workbook. Admins: it is made from every reviewer's levels."""
    from worker.review.next_round import write_next

    def write(folder: Path) -> Path:
        written = write_next(session, [job_id], n, folder / f"next-{job_id}.xlsx")
        if not written:
            raise NotFound(f"job {job_id} has no classified protocols to review")
        return written[0][0]

    return _written_for_request(write)


@router.get(
    "/jobs/{job_id}/review-html.zip", tags=["downloads"], response_class=FileResponse,
    responses={
        200: {"content": {"application/zip": {}}, "description": "The package."}, **DOWNLOADS
    },
)  # fmt: skip
def bundle_download(session: Db, user: SignedIn, job_id: VisibleJob) -> Response:
    """The reviewer's package: the job's HTML bundle (offline pages with every heat-map)
    with its review workbook(s) inside, each row linked to its protocol's page; unzipped,
    one folder. A reviewer's holds their own levels only."""
    from cenr.portal.rounds import package_options  # a round's reviewer: their part of it

    return download(session, job_id, "html", user, **package_options(session, job_id, user))


@router.get("/jobs/{job_id}/protocols/{item_id}", include_in_schema=False)
def protocol_page(
    request: Request, session: Db, user: SignedIn, job_id: VisibleJob, item_id: int
) -> Response:
    from cenr.portal.rounds import blind_for
    from exporters.html_bundle import HtmlBundle
    from worker.model_store import codebook_of
    from worker.results import review_data, token_spans
    from worker.review.history import label_history

    data = review_data(session, job_id, item_id=item_id, reviewer=own_only(user))
    if not data.rows:
        raise NotFound(f"job {job_id} has no classified protocol {item_id}")
    row = data.rows[0]
    blind = blind_for(session, job_id, user)  # a blind round's reviewer: the text alone
    codebook = codebook_of(session, data.model_version_id)
    bundle = HtmlBundle(data, codebook, lambda p: [], blind=blind)
    context = bundle.protocol_context(row, token_spans(session, row.prediction_id))
    history = label_history(session, job_id, item_id=item_id) if user.role == "admin" else None
    return page(request, "protocol.html", user, job_id=job_id, history=history, **context)
