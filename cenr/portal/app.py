"""The portal application: sign-in, jobs, downloads, review uploads, and a JSON API.

Every page has a JSON twin under ``/api`` built from the same data functions, described
by OpenAPI at ``/api/openapi.json``. Everything needs a session except ``/login``, its
stylesheet and ``/health``; admins upload protocols and see models, reviewers download
and return workbooks. Responses carry a strict Content-Security-Policy (the pages load
only the portal's own script and stylesheets) and documents' text is escaped by Jinja2's
autoescape or, for heat-maps, by the HTML exporter.
"""

import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.middleware.sessions import SessionMiddleware

from cenr.portal import auth
from cenr.portal.uploads import PROTOCOL_TYPES, WORKBOOK_TYPES, save_upload
from cenr.settings import Settings, get_settings
from exporters.html_bundle import script, stylesheet
from schema.errors import CenrError, ConfigError, DatabaseUnavailable, QueueFull
from schema.tables import Job, ModelVersion, User

HERE = Path(__file__).resolve().parent
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PUBLIC = {"/login", "/health", "/static/portal.css"}
STATIC: dict[str, tuple[Callable[[], str], str]] = {
    "portal.css": (lambda: (HERE / "static" / "portal.css").read_text(), "text/css"),
    "portal.js": (lambda: (HERE / "static" / "portal.js").read_text(), "text/javascript"),
    "cenr.css": (stylesheet, "text/css"),  # the HTML bundle's, so protocol pages match it
    "cenr.js": (script, "text/javascript"),
}


def create_app(settings: Settings | None = None) -> FastAPI:
    """The portal for ``settings`` (default: from the environment)."""
    from schema.database import open_database, session_scope

    settings = settings or get_settings()
    auth.check_secret(settings.secret_key)
    engine = open_database(settings.resolved_database_url)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    app = FastAPI(
        title="cenr portal",
        summary="Jobs, review workbooks and reviewer agreement for CEnR protocol reviews.",
        docs_url=None, redoc_url=None, openapi_url=None,  # the schema is behind sign-in
    )  # fmt: skip
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="cenr_session",
        max_age=int(settings.session_hours * 3600),
        same_site="strict",
        https_only=settings.secure_cookies,
    )

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    def wants_json(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    @app.exception_handler(auth.SignInRequired)
    async def sign_in(request: Request, exc: auth.SignInRequired) -> Response:
        if wants_json(request):
            return JSONResponse(
                {"error": "sign in first (GET /login for the form's token, then POST /login)"},
                status_code=401,
            )
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(auth.Forbidden)
    async def forbidden(request: Request, exc: auth.Forbidden) -> Response:
        return error(request, str(exc), 403)

    @app.exception_handler(CenrError)
    async def user_error(request: Request, exc: CenrError) -> Response:
        busy = isinstance(exc, DatabaseUnavailable | QueueFull)
        response = error(request, " ".join(str(exc).split()), 503 if busy else 400)
        if isinstance(exc, QueueFull):
            response.headers["Retry-After"] = "60"
        return response

    def error(request: Request, message: str, status: int) -> Response:
        if wants_json(request):
            return JSONResponse({"error": message}, status_code=status)
        return templates.TemplateResponse(
            request, "error.html", {"message": message, "user": None}, status_code=status
        )

    # -- dependencies ----------------------------------------------------------------
    def database() -> Iterator[Session]:
        with session_scope(engine) as session:
            yield session

    Db = Annotated[Session, Depends(database)]

    def signed_in(request: Request, session: Db) -> User:
        user = auth.session_user(session, request.session, settings.session_hours)
        if user is None:
            raise auth.SignInRequired
        return user

    SignedIn = Annotated[User, Depends(signed_in)]

    def admin(user: SignedIn) -> User:
        if user.role != "admin":
            raise auth.Forbidden(f"{user.username} is a reviewer: this needs an admin")
        return user

    Admin = Annotated[User, Depends(admin)]

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

    async def login_csrf(request: Request) -> None:
        """The sign-in form's pre-session token (login CSRF), checked before any hashing:
        the form field or header must match the server-signed ``cenr_login`` cookie."""
        expected = auth.login_cookie_token(
            settings.secret_key, request.cookies.get(auth.LOGIN_COOKIE)
        )
        if not auth.same_token(expected, await sent_token(request)):
            raise auth.Forbidden("the sign-in security token is missing or stale: reload the page")

    def page(request: Request, name: str, user: User | None, **context: Any) -> Response:
        context.update(user=user, csrf=request.session.get("csrf", ""))
        return templates.TemplateResponse(request, name, context)

    # -- sign-in, health, static -----------------------------------------------------
    @app.get("/health", tags=["service"])
    def health(session: Db) -> dict[str, str]:
        """Liveness for the compose healthcheck: the database answers."""
        session.execute(select(1))
        return {"status": "ok"}

    login_cookie_flags: dict[str, Any] = {
        "path": auth.LOGIN_PATH, "secure": settings.secure_cookies, "httponly": True,
        "samesite": "strict",
    }  # fmt: skip

    def login_page(request: Request, failed: bool) -> Response:
        """The sign-in form with its token, and the token's cookie; the session cookie is
        left alone (a signed-in browser arriving from another site has not sent it)."""
        token, cookie = auth.login_cookie(
            settings.secret_key, request.cookies.get(auth.LOGIN_COOKIE)
        )
        response = page(request, "login.html", None, failed=failed, login_csrf=token)
        response.set_cookie(
            auth.LOGIN_COOKIE, cookie, max_age=auth.LOGIN_HOURS * 3600, **login_cookie_flags
        )
        return response

    @app.get("/login", include_in_schema=False)
    def login_form(request: Request) -> Response:
        return login_page(request, failed=False)

    @app.post("/login", tags=["session"], dependencies=[Depends(login_csrf)])
    def login(
        request: Request,
        session: Db,
        username: Annotated[str, Form(max_length=100)],
        password: Annotated[str, Form(max_length=1000)],
    ) -> Response:
        """Sign in with a form post; sets the session cookie. The form's ``csrf_token``
        (or an ``X-CSRF-Token`` header) must be the one ``GET /login`` put in the page and
        its ``cenr_login`` cookie; signing in deletes that cookie, so each token serves one
        sign-in. API clients read the session's CSRF token from ``GET /api/me`` afterwards."""
        user = auth.authenticate(session, username, password)
        if user is None:  # the form stays usable: the same token, re-rendered
            response = login_page(request, failed=True)
            response.status_code = 401
            return response
        auth.start_session(request.session, user)  # a new session: nothing carried over
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(auth.LOGIN_COOKIE, **login_cookie_flags)  # the token is used up
        return response

    @app.post("/logout", tags=["session"], dependencies=[Checked])
    def logout(request: Request, user: SignedIn) -> Response:
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    @app.get("/static/{name}", include_in_schema=False)
    def static(request: Request, name: str, session: Db) -> Response:
        if f"/static/{name}" not in PUBLIC:
            signed_in(request, session)
        if name not in STATIC:
            return Response(status_code=404)
        content, media = STATIC[name]
        return Response(content(), media_type=media)

    # -- data shared by pages and API ------------------------------------------------
    def jobs_overview(session: Session) -> list[dict[str, Any]]:
        from worker.results import job_status

        ids = session.scalars(select(Job.id).order_by(Job.created_at.desc()).limit(200))
        return [_public(job_status(session, job_id).to_dict()) for job_id in ids]

    def job_detail(session: Session, job_id: str) -> dict[str, Any]:
        from worker.agreement import agreement
        from worker.results import job_rows, job_status

        status = _public(job_status(session, job_id).to_dict())
        status["protocols"] = [  # "item": the protocol's page, for those classified
            {"item": r.item_id if r.status == "done" else None, "file": r.file,
             "row": r.position, "protocol_id": r.protocol_id, "status": r.status,
             "level": r.level_code, "confidence": r.confidence,
             "faithfulness": r.faithfulness, "error": r.error}
            for r in job_rows(session, job_id)
        ]  # fmt: skip
        status["agreement"] = agreement(session, job_id)
        return status

    def start_job(paths: list[Path], model: str | None) -> str:
        from cenr.service import pipeline_context, queue_job, submit_paths

        job_id = submit_paths(
            settings, engine, paths, model or None, None, "portal",
            {"text_columns": [], "id_column": ""},
        )  # fmt: skip
        ctx, runner = pipeline_context(settings, engine)
        queue_job(ctx, job_id)
        if runner is not None:  # embedded: the steps run in a thread of this process
            threading.Thread(target=runner.drain, name=f"job-{job_id}", daemon=True).start()
        return job_id

    async def upload_protocols(files: list[UploadFile], model: str | None) -> str:
        from worker.backpressure import check_capacity

        with session_scope(engine) as session:  # refuse before writing anything to disk
            check_capacity(session, settings)
        folder = Path(tempfile.mkdtemp(dir=_mkdir(settings.uploads_dir)))
        try:
            for upload in files:
                save_upload(upload.file, upload.filename or "", folder, settings.max_file_bytes,
                            PROTOCOL_TYPES)  # fmt: skip
            return start_job([folder], model)  # the job keeps the bytes: the folder can go
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def import_workbook(session: Session, job_id: str, upload: UploadFile, user: User) -> Any:
        from worker.reviews import import_reviews

        folder = Path(tempfile.mkdtemp(dir=_mkdir(settings.uploads_dir)))
        try:
            path = save_upload(upload.file, upload.filename or "", folder,
                               settings.max_file_bytes, WORKBOOK_TYPES)  # fmt: skip
            return import_reviews(session, path, user.username, job_id=job_id, as_user=True)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def download(session: Session, job_id: str, kind: str) -> Response:
        from worker.pipeline import export_html, export_workbook

        if session.get(Job, job_id) is None:
            raise ConfigError(f"no job {job_id!r}")
        folder = Path(tempfile.mkdtemp())
        name = f"review-{job_id}.xlsx" if kind == "xlsx" else f"review-{job_id}-html.zip"
        write = export_workbook if kind == "xlsx" else export_html
        write(session, job_id, folder / name)
        return FileResponse(
            folder / name, filename=name,
            background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
        )  # fmt: skip

    # -- pages -----------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def jobs_page(request: Request, session: Db, user: SignedIn) -> Response:
        models = session.scalars(select(ModelVersion.name).order_by(ModelVersion.created_at))
        return page(request, "jobs.html", user, jobs=jobs_overview(session), models=list(models))

    @app.post("/jobs", include_in_schema=False, dependencies=[Checked])
    async def upload_page(
        user: Admin, files: Annotated[list[UploadFile], File()], model: Annotated[str, Form()] = ""
    ) -> Response:
        job_id = await upload_protocols(files, model)
        return RedirectResponse(f"/jobs/{job_id}", status_code=303)

    @app.get("/jobs/{job_id}", include_in_schema=False)
    def job_page(request: Request, session: Db, user: SignedIn, job_id: str) -> Response:
        return page(request, "job.html", user, job=job_detail(session, job_id))

    @app.get("/jobs/{job_id}/review.xlsx", tags=["downloads"])
    def workbook_download(session: Db, user: SignedIn, job_id: str) -> Response:
        """The job's review workbook, with every level imported so far."""
        return download(session, job_id, "xlsx")

    @app.get("/jobs/{job_id}/review-html.zip", tags=["downloads"])
    def bundle_download(session: Db, user: SignedIn, job_id: str) -> Response:
        """The job's HTML bundle (offline pages with every heat-map)."""
        return download(session, job_id, "html")

    @app.get("/jobs/{job_id}/protocols/{item_id}", include_in_schema=False)
    def protocol_page(
        request: Request, session: Db, user: SignedIn, job_id: str, item_id: int
    ) -> Response:
        from exporters.html_bundle import HtmlBundle, legend
        from worker.model_store import codebook_of
        from worker.results import review_data, token_spans

        data = review_data(session, job_id, item_id=item_id)
        if not data.rows:
            raise ConfigError(f"job {job_id} has no classified protocol {item_id}")
        row = data.rows[0]
        codebook = codebook_of(session, data.model_version_id)
        bundle = HtmlBundle(data, codebook, lambda p: token_spans(session, p))
        return page(
            request, "protocol.html", user, job_id=job_id, row=row,
            level=codebook.levels[row.level_index],
            probabilities=list(zip(codebook.levels, row.probabilities, strict=False)),
            switch=bundle.level_switch(row), legend=legend(),
            text=bundle.text(row, token_spans(session, row.prediction_id)),
            reviews=data.reviews.get(row.item_id, []),
        )  # fmt: skip

    @app.post("/jobs/{job_id}/reviews", include_in_schema=False, dependencies=[Checked])
    def review_upload_page(
        request: Request, session: Db, user: SignedIn, job_id: str,
        workbook: Annotated[UploadFile, File()],
    ) -> Response:  # fmt: skip
        report = import_workbook(session, job_id, workbook, user)
        return page(request, "import.html", user, job_id=job_id, report=report.to_dict())

    @app.get("/models", include_in_schema=False)
    def models_page(request: Request, session: Db, user: Admin) -> Response:
        return page(request, "models.html", user, models=models_list(session))

    def install_model(session: Session, upload: UploadFile) -> str:
        from worker.model_store import install_archive

        folder = Path(tempfile.mkdtemp(dir=_mkdir(settings.uploads_dir)))
        try:
            limit = int(settings.max_unzipped_mb * 2**20)
            path = save_upload(upload.file, upload.filename or "", folder, limit, (".zip",))
            return install_archive(session, path, settings.models_dir, limit)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    @app.post("/models", include_in_schema=False, dependencies=[Checked])
    def model_upload_page(
        session: Db, user: Admin, archive: Annotated[UploadFile, File()]
    ) -> Response:
        install_model(session, archive)
        return RedirectResponse("/models", status_code=303)

    @app.post("/api/models", tags=["models"], dependencies=[Checked], status_code=201)
    def api_model_upload(
        session: Db, user: Admin, archive: Annotated[UploadFile, File()]
    ) -> dict[str, str]:
        """Register a model version uploaded as a zip of its folder (admins); its files go
        into the model store for every worker."""
        return {"model": install_model(session, archive)}

    def models_list(session: Session) -> list[dict[str, Any]]:
        return [
            {"name": m.name, "attention": m.attention, "created_at": m.created_at.isoformat(),
             "accuracy": m.accuracy, "macro_f1": m.macro_f1, "n_training": m.n_training}
            for m in session.scalars(select(ModelVersion).order_by(ModelVersion.created_at))
        ]  # fmt: skip

    # -- JSON API --------------------------------------------------------------------
    @app.get("/api/me", tags=["session"])
    def me(request: Request, user: SignedIn) -> dict[str, Any]:
        """Who is signed in, and the CSRF token for POST requests (``X-CSRF-Token``)."""
        return {"username": user.username, "role": user.role, "csrf_token": request.session["csrf"]}

    @app.get("/api/jobs", tags=["jobs"])
    def api_jobs(session: Db, user: SignedIn) -> list[dict[str, Any]]:
        """The newest 200 jobs with their counts."""
        return jobs_overview(session)

    @app.post("/api/jobs", tags=["jobs"], dependencies=[Checked], status_code=201)
    async def api_upload(
        user: Admin, files: Annotated[list[UploadFile], File()], model: Annotated[str, Form()] = ""
    ) -> dict[str, str]:
        """Start a job from uploaded protocol files (admins)."""
        return {"job": await upload_protocols(files, model)}

    @app.get("/api/jobs/{job_id}", tags=["jobs"])
    def api_job(session: Db, user: SignedIn, job_id: str) -> dict[str, Any]:
        """A job's counts, protocols (level, confidence, faithfulness, failures) and
        reviewer agreement."""
        return job_detail(session, job_id)

    @app.post("/api/jobs/{job_id}/reviews", tags=["reviews"], dependencies=[Checked])
    def api_review_upload(
        session: Db, user: SignedIn, job_id: str, workbook: Annotated[UploadFile, File()]
    ) -> dict[str, Any]:
        """Import a returned review (or Discussion) workbook as the signed-in user."""
        report: dict[str, Any] = import_workbook(session, job_id, workbook, user).to_dict()
        return report

    @app.get("/api/models", tags=["models"])
    def api_models(session: Db, user: Admin) -> list[dict[str, Any]]:
        """Registered model versions (admins)."""
        return models_list(session)

    @app.get("/api/openapi.json", include_in_schema=False)
    def openapi(user: SignedIn) -> dict[str, Any]:
        return app.openapi()

    app.state.engine = engine
    return app


def _public(status: dict[str, Any]) -> dict[str, Any]:
    """A job's status without the server's paths."""
    status.pop("out_dir", None)
    status.pop("exports", None)
    return status


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
