"""Models: the registered versions and uploading a new one (admins only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from cenr.portal.deps import Admin, Checked, Db, UploadFolder, page, settings_of
from cenr.portal.uploads import save_upload
from schema.tables import ModelVersion

router = APIRouter()


def models_list(session: Session) -> list[dict[str, Any]]:
    """The registered model versions, oldest first."""
    return [
        {"name": m.name, "attention": m.attention, "created_at": m.created_at.isoformat(),
         "accuracy": m.accuracy, "macro_f1": m.macro_f1, "n_training": m.n_training}
        for m in session.scalars(select(ModelVersion).order_by(ModelVersion.created_at))
    ]  # fmt: skip


def install_model(request: Request, session: Session, upload: UploadFile) -> str:
    """Register an uploaded zip of a model folder; returns the version's name."""
    from worker.model_store import install_archive

    settings = settings_of(request)
    with UploadFolder(settings) as folder:
        limit = int(settings.max_unzipped_mb * 2**20)
        path = save_upload(upload.file, upload.filename or "", folder, limit, (".zip",))
        return install_archive(session, path, settings.models_dir, limit)


@router.get("/models", include_in_schema=False)
def models_page(request: Request, session: Db, user: Admin) -> Response:
    return page(request, "models.html", user, models=models_list(session))


@router.post("/models", include_in_schema=False, dependencies=[Checked])
def model_upload_page(
    request: Request, session: Db, user: Admin, archive: Annotated[UploadFile, File()]
) -> Response:
    install_model(request, session, archive)
    return RedirectResponse("/models", status_code=303)
