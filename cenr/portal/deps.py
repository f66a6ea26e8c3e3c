"""What every router of the portal shares: the application's state, the database session,
who is signed in, the CSRF checks, page rendering, and the error responses each operation
documents in OpenAPI.

The routers read the settings, the engine and the templates from ``request.app.state``
(set once by :func:`cenr.portal.app.create_app`), so a route can be imported, and its
dependencies overridden, on its own.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from cenr.portal import auth
from schema.database import session_scope
from schema.errors import NotFound
from schema.tables import Job, User
from worker.settings import Settings


class ErrorBody(BaseModel):
    """Every error the portal answers in JSON: one sentence saying what was wrong."""

    error: str


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


def html(description: str) -> dict[str, Any]:
    """An answer that is an HTML page (the sign-in form, an error page)."""
    return {"content": {"text/html": {}}, "description": description}


# The responses an operation under /api can give besides its success, by what it needs.
SIGNED_IN: dict[int | str, dict[str, Any]] = {
    401: _error("Not signed in, or the session expired."),
    503: _error("The database is unreachable; try again shortly."),
}
CHECKED: dict[int | str, dict[str, Any]] = {
    **SIGNED_IN,
    413: _error("The request is larger than CENR_MAX_REQUEST_MB: refused as it streams in."),
    403: _error("The CSRF token (X-CSRF-Token header) is missing or stale, or the role "
                "does not allow this."),
}  # fmt: skip
ADMIN: dict[int | str, dict[str, Any]] = {
    **SIGNED_IN, 403: _error("Signed in as a reviewer: this needs an admin.")
}  # fmt: skip
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _error("No job or protocol of that id.")}
BAD_INPUT: dict[int | str, dict[str, Any]] = {
    400: _error("The uploaded file or a value in the request cannot be used; the message "
                "names the file and the problem."),
}  # fmt: skip
BUSY: dict[int | str, dict[str, Any]] = {
    503: _error("Too much work is waiting (Retry-After says when to try again), or the "
                "database is unreachable."),
}  # fmt: skip
# The same for the routes a browser follows (downloads, sign-in): errors are pages.
PAGE_SIGNED_IN: dict[int | str, dict[str, Any]] = {
    303: {"description": "Not signed in, or the session expired: to the sign-in page."},
    503: html("The database is unreachable; try again shortly."),
}
PAGE_CHECKED: dict[int | str, dict[str, Any]] = {
    **PAGE_SIGNED_IN, 403: html("The form's security token is missing or stale."),
    413: html("The request is larger than CENR_MAX_REQUEST_MB: refused as it streams in."),
}  # fmt: skip
PAGE_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: html("No job of that id.")}


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def database(request: Request) -> Iterator[Session]:
    with session_scope(engine_of(request)) as session:
        yield session


Db = Annotated[Session, Depends(database)]


def signed_in(request: Request, session: Db) -> User:
    user = auth.session_user(session, request.session, settings_of(request).session_hours)
    if user is None:
        raise auth.SignInRequired
    return user


SignedIn = Annotated[User, Depends(signed_in)]


def admin(user: SignedIn) -> User:
    if user.role != "admin":
        raise auth.Forbidden(f"{user.username} is a reviewer: this needs an admin")
    return user


Admin = Annotated[User, Depends(admin)]


def visible_job(session: Db, user: SignedIn, job_id: str) -> str:
    """The path's job, if the signed-in user may see it: an admin every job, a reviewer
    the jobs assigned to them. Any other is 404, as if it did not exist."""
    from worker.review.assignments import may_see

    if session.get(Job, job_id) is None or not may_see(session, user, job_id):
        raise NotFound(f"no job {job_id!r}")
    return job_id


VisibleJob = Annotated[str, Depends(visible_job)]


async def sent_token(request: Request) -> str | None:
    """The CSRF token a request carries: the header, else the form's hidden field."""
    token = request.headers.get("x-csrf-token")
    if token is None and "form" in request.headers.get("content-type", ""):
        token = str((await request.form()).get("csrf_token") or "")
    return token


async def csrf(request: Request, user: SignedIn) -> None:  # signed in first: 401, not 403
    if not auth.csrf_ok(request.session, await sent_token(request)):
        raise auth.Forbidden("the form's security token is missing or stale: reload the page")


Checked = Depends(csrf)


def page(request: Request, name: str, user: User | None, **context: Any) -> Response:
    """A page of the portal's templates, with the user and the session's CSRF token."""
    templates: Jinja2Templates = request.app.state.templates
    context.update(user=user, csrf=request.session.get("csrf", ""))
    return templates.TemplateResponse(request, name, context)


class UploadFolder:
    """A request's own new folder under ``CENR_HOME/uploads``, removed afterwards."""

    def __init__(self, settings: Settings) -> None:
        settings.uploads_dir.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(dir=settings.uploads_dir))

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *_: object) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
