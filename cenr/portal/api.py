"""The JSON API under ``/api``: each page's twin, built from the same data functions, and
the OpenAPI document (behind sign-in). Every operation lists each status it can answer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from pydantic import BaseModel, Field, StringConstraints

from cenr.portal.deps import (
    ADMIN,
    BAD_INPUT,
    BUSY,
    CHECKED,
    NOT_FOUND,
    SIGNED_IN,
    Admin,
    Checked,
    Db,
    SignedIn,
    VisibleJob,
    settings_of,
)
from cenr.portal.jobs import job_detail, jobs_overview, upload_protocols
from cenr.portal.models import install_model, models_list
from cenr.portal.reviews import import_workbook

router = APIRouter(prefix="/api")


@router.get("/me", tags=["session"], responses=SIGNED_IN)
def me(request: Request, user: SignedIn) -> dict[str, Any]:
    """Who is signed in, and the CSRF token for POST requests (``X-CSRF-Token``)."""
    return {"username": user.username, "role": user.role, "csrf_token": request.session["csrf"]}


@router.get("/jobs", tags=["jobs"], responses=SIGNED_IN)
def api_jobs(request: Request, session: Db, user: SignedIn) -> list[dict[str, Any]]:
    """The newest 200 jobs with their counts, and what each waits for (``progress_note``:
    the time left, or a lost worker's protocols and how long they have been waited for)."""
    return jobs_overview(session, settings_of(request).lost_after, user)


@router.post(
    "/jobs", tags=["jobs"], dependencies=[Checked], status_code=201,
    responses={**CHECKED, **ADMIN, **BAD_INPUT, **BUSY,
               404: {**NOT_FOUND[404], "description": "No model of the name given."}},
)  # fmt: skip
async def api_upload(
    request: Request,
    user: Admin,
    files: Annotated[list[UploadFile], File()],
    model: Annotated[str, Form()] = "",
) -> dict[str, str]:
    """Start a job from uploaded protocol files (admins)."""
    return {"job": await upload_protocols(request, files, model)}


@router.get("/jobs/{job_id}", tags=["jobs"], responses={**SIGNED_IN, **NOT_FOUND})
def api_job(request: Request, session: Db, user: SignedIn, job_id: VisibleJob) -> dict[str, Any]:
    """A job's counts, protocols (level, confidence, faithfulness, failures) and
    reviewer agreement."""
    return job_detail(session, job_id, settings_of(request).lost_after, user)


@router.post(
    "/jobs/{job_id}/reviews", tags=["reviews"], dependencies=[Checked],
    responses={**CHECKED, **NOT_FOUND, **BAD_INPUT},
)  # fmt: skip
def api_review_upload(
    request: Request,
    session: Db,
    user: SignedIn,
    job_id: VisibleJob,
    workbook: Annotated[UploadFile, File()],
) -> dict[str, Any]:
    """Import a returned review (or Discussion) workbook as the signed-in user."""
    report: dict[str, Any] = import_workbook(request, session, job_id, workbook, user).to_dict()
    return report


class Assignment(BaseModel):
    """Users to deal a job to (or, with ``remove``, to take it from)."""

    users: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] = Field(
        min_length=1, max_length=200
    )
    remove: bool = False


@router.post(
    "/jobs/{job_id}/assignments", tags=["jobs"], dependencies=[Checked],
    responses={**CHECKED, **ADMIN, **NOT_FOUND, **BAD_INPUT},
)  # fmt: skip
def api_assign(session: Db, user: Admin, job_id: VisibleJob, body: Assignment) -> dict[str, Any]:
    """Assign the job to reviewers, or take it from them (admins): a reviewer sees only
    the jobs assigned to them. Returns the job's reviewers afterwards."""
    from worker.review.assignments import assign

    reviewers = assign(session, job_id, body.users, user.username, remove=body.remove)
    return {"job": job_id, "reviewers": reviewers}


class Round(BaseModel):
    """A review round to deal: its reviewers (portal users, each assigned the job), the
    share of the protocols every one of them reviews, and whether it is blind."""

    reviewers: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        min_length=1, max_length=200
    )
    overlap: float = Field(0.0, ge=0.0, le=1.0, description="0.2: a fifth reviewed by all")
    blind: bool = Field(False, description="the workbooks hold the protocol text alone")


@router.post(
    "/jobs/{job_id}/rounds", tags=["jobs"], dependencies=[Checked],
    responses={**CHECKED, **ADMIN, **NOT_FOUND, **BAD_INPUT},
)  # fmt: skip
def api_round(session: Db, user: Admin, job_id: VisibleJob, body: Round) -> dict[str, Any]:
    """Deal the job's review workbooks to reviewers, as `cenr export --reviewers --overlap
    [--blind]` does (admins): each is assigned the job, and their workbook download
    (``/jobs/{job_id}/review.xlsx``) is their part of the round; blind, it holds nothing
    the model said. Dealing again replaces the round. Returns the round, with each
    reviewer's number of workbooks."""
    from cenr.portal.rounds import deal_round

    return deal_round(session, job_id, body.reviewers, body.overlap, body.blind, user.username)


@router.get("/models", tags=["models"], responses=ADMIN)
def api_models(session: Db, user: Admin) -> list[dict[str, Any]]:
    """Registered model versions (admins)."""
    return models_list(session)


@router.post(
    "/models", tags=["models"], dependencies=[Checked], status_code=201,
    responses={**CHECKED, **ADMIN, **BAD_INPUT},
)  # fmt: skip
def api_model_upload(
    request: Request, session: Db, user: Admin, archive: Annotated[UploadFile, File()]
) -> dict[str, str]:
    """Register a model version uploaded as a zip of its folder (admins); its files go
    into the model store for every worker."""
    return {"model": install_model(request, session, archive)}


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request, user: SignedIn) -> dict[str, Any]:
    schema: dict[str, Any] = request.app.openapi()
    return schema
