"""Reviews: a returned review (or Discussion) workbook uploaded by the signed-in user."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from cenr.portal.deps import (
    Admin,
    Checked,
    Db,
    SignedIn,
    UploadFolder,
    VisibleJob,
    page,
    settings_of,
)
from cenr.portal.uploads import WORKBOOK_TYPES, save_upload
from schema.tables import User

router = APIRouter()


def import_workbook(
    request: Request, session: Session, job_id: str, upload: UploadFile, user: User
) -> Any:
    """Import the uploaded workbook's levels into ``job_id`` (a :data:`VisibleJob`: one the
    user may see, checked by the route) as ``user``; the report."""
    from worker.review.imports import import_reviews

    settings = settings_of(request)
    with UploadFolder(settings) as folder:
        path = save_upload(upload.file, upload.filename or "", folder,
                           settings.max_file_bytes, WORKBOOK_TYPES)  # fmt: skip
        return import_reviews(
            session,
            path,
            user.username,
            job_id=job_id,
            as_user=True,
            channel="portal",
            may_adjudicate=user.role == "admin",  # a Discussion workbook: NotPermitted, 403
        )


@router.post("/jobs/{job_id}/reviews", include_in_schema=False, dependencies=[Checked])
def review_upload_page(
    request: Request, session: Db, user: SignedIn, job_id: VisibleJob,
    workbook: Annotated[UploadFile, File()],
) -> Response:  # fmt: skip
    report = import_workbook(request, session, job_id, workbook, user)
    return page(request, "import.html", user, job_id=job_id, report=report.to_dict())


@router.post("/jobs/{job_id}/assignments", include_in_schema=False, dependencies=[Checked])
def assign_page(
    session: Db, user: Admin, job_id: VisibleJob,
    users: Annotated[str, Form(max_length=5000)], action: Annotated[str, Form()] = "assign",
) -> Response:  # fmt: skip
    """The job page's form: names separated by commas or spaces, assigned or removed."""
    from worker.review.assignments import assign

    names = users.replace(",", " ").split()
    assign(session, job_id, names, user.username, remove=action == "remove")
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)
