"""The portal application: its settings, security headers and error responses, and the
routers (sign-in, jobs, reviews, models, API) it is built from.

Every page has a JSON twin under ``/api`` built from the same data functions, described
by OpenAPI at ``/api/openapi.json``. Everything needs a session except ``/login``, its
stylesheet and ``/health``; admins upload protocols and see models, reviewers download
and return workbooks. Responses carry a strict Content-Security-Policy (the pages load
only the portal's own script and stylesheets) and documents' text is escaped by Jinja2's
autoescape or, for heat-maps, by the HTML exporter. An unknown job, protocol or model is
404, a request that cannot be used 400 (422 when it does not fit the schema), a portal
too busy or without its database 503.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from cenr.portal import (
    api,
    auth,
    bounds,
    history,
    jobs,
    limits,
    models,
    reviews,
    rounds,
    signin,
)
from exporters import rendering
from schema.errors import CenrError, DatabaseUnavailable, NotFound, NotPermitted, QueueFull
from schema.second_look import percent
from worker.settings import Settings, get_settings

HERE = Path(__file__).resolve().parent
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PUBLIC = signin.PUBLIC
ROUTERS = (
    signin.router, jobs.router, reviews.router, rounds.router, models.router, history.router,
    api.router,
)  # fmt: skip


def templates() -> Jinja2Templates:
    """The portal's templates, and the exporters' shared ones (a protocol's page body),
    rendered with the exporters' escaping."""
    loader = ChoiceLoader([FileSystemLoader(HERE / "templates"), rendering.loader()])
    env = rendering.configure(Environment(loader=loader, autoescape=True))
    env.filters["minute"] = minute
    env.filters["percent"] = percent  # 0.87 -> 87%, as the workbook and the pages show it
    return Jinja2Templates(env=env)


def minute(value: object) -> str:
    """A stored time (ISO 8601, UTC) to the minute: ``2026-12-04 23:41``."""
    return str(value or "")[:16].replace("T", " ")


def api_routes() -> list[APIRoute]:
    """Every route of the portal, with its full path and its own dependencies."""
    return [route for router in ROUTERS for route in router.routes if isinstance(route, APIRoute)]


def create_app(settings: Settings | None = None) -> FastAPI:
    """The portal for ``settings`` (default: from the environment)."""
    from schema.database import open_database

    settings = settings or get_settings()
    auth.check_secret(settings.secret_key)
    app = FastAPI(
        title="cenr portal",
        summary="Jobs, review workbooks and reviewer agreement for CEnR protocol reviews.",
        docs_url=None, redoc_url=None, openapi_url=None,  # the schema is behind sign-in
    )  # fmt: skip
    app.state.settings = settings
    app.state.engine = open_database(settings.resolved_database_url)
    app.state.templates = templates()
    bounds.configure(settings)
    # Added before the session's, so it runs inside it (scope["session"] decoded) and
    # before the routes parse a form: no body from strangers, none past the limit.
    app.add_middleware(limits.BoundedBodies, error=error, sign_in=sign_in)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="cenr_session",
        max_age=int(settings.session_hours * 3600),
        same_site="strict",
        https_only=settings.secure_cookies,
    )
    app.middleware("http")(security_headers)
    app.add_exception_handler(auth.SignInRequired, sign_in)
    app.add_exception_handler(auth.Forbidden, forbidden)
    app.add_exception_handler(CenrError, user_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    for router in ROUTERS:
        app.include_router(router)
    return app


async def security_headers(request: Request, call_next: Any) -> Response:
    response: Response = await call_next(request)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    if not request.url.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"
    return response


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def error(
    request: Request, message: str, status: int, headers: dict[str, str] | None = None
) -> Response:
    """An error as JSON (``{"error": ...}``) under ``/api``, else as a page; never with
    a server path in it (:func:`without_server_paths`)."""
    message = without_server_paths(message, request.app.state.settings)
    if _wants_json(request):
        return JSONResponse({"error": message}, status_code=status, headers=headers)
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request, "error.html", {"message": message, "user": None}, status_code=status,
        headers=headers,
    )  # fmt: skip


def without_server_paths(message: str, settings: Settings) -> str:
    """``message`` with every path under the data folder (CENR_HOME, the uploads folder in
    it) or the temporary folder cut to its last part, the file's own name: what a user
    uploaded is named as they named it, and the server's layout stays private."""
    roots = {settings.home, settings.uploads_dir, Path(tempfile.gettempdir())}
    names = {str(p).rstrip("/") for root in roots for p in (root, root.resolve())} - {""}
    pattern = "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
    # folders under a root (mkdtemp's among them) hold no spaces; a file's name may
    return re.sub(rf"(?:{pattern})/(?:[^/\s]+/)*", "", message)


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (an unknown path, a wrong method, a form that does not
    parse) in the portal's error shape."""
    assert isinstance(exc, StarletteHTTPException)
    return error(request, str(exc.detail), exc.status_code, dict(exc.headers or {}) or None)


async def sign_in(request: Request, exc: Exception) -> Response:
    if _wants_json(request):
        return JSONResponse(
            {"error": "sign in first (GET /login for the form's token, then POST /login)"},
            status_code=401,
        )
    return RedirectResponse("/login", status_code=303)


async def forbidden(request: Request, exc: Exception) -> Response:
    return error(request, str(exc), 403)


def status_of(exc: CenrError) -> int:
    """The HTTP status of an error a user can meet."""
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, NotPermitted):
        return 403
    if isinstance(exc, DatabaseUnavailable | QueueFull):
        return 503
    return 400


async def user_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CenrError)
    response = error(request, " ".join(str(exc).split()), status_of(exc))
    if isinstance(exc, QueueFull):
        response.headers["Retry-After"] = "60"
    return response
