"""Sign-in and out, the health check and the static files: the routes a browser meets
before it has a session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from cenr.portal import auth
from cenr.portal.deps import (
    PAGE_CHECKED,
    Checked,
    Db,
    SignedIn,
    html,
    page,
    sent_token,
    settings_of,
    signed_in,
)
from exporters.html_bundle import script, stylesheet

HERE = Path(__file__).resolve().parent
PUBLIC = {"/login", "/health", "/static/portal.css"}
STATIC: dict[str, tuple[Callable[[], str], str]] = {
    "portal.css": (lambda: (HERE / "static" / "portal.css").read_text(), "text/css"),
    "portal.js": (lambda: (HERE / "static" / "portal.js").read_text(), "text/javascript"),
    "cenr.css": (stylesheet, "text/css"),  # the HTML bundle's, so protocol pages match it
    "cenr.js": (script, "text/javascript"),
}

router = APIRouter()


async def login_csrf(request: Request) -> None:
    """The sign-in form's pre-session token (login CSRF), checked before any hashing:
    the form field or header must match the server-signed ``cenr_login`` cookie."""
    secret = settings_of(request).secret_key
    expected = auth.login_cookie_token(secret, request.cookies.get(auth.LOGIN_COOKIE))
    if not auth.same_token(expected, await sent_token(request)):
        raise auth.Forbidden("the sign-in security token is missing or stale: reload the page")


def _cookie_flags(request: Request) -> dict[str, Any]:
    return {
        "path": auth.LOGIN_PATH, "secure": settings_of(request).secure_cookies,
        "httponly": True, "samesite": "strict",
    }  # fmt: skip


def login_page(request: Request, failed: bool) -> Response:
    """The sign-in form with its token, and the token's cookie; the session cookie is
    left alone (a signed-in browser arriving from another site has not sent it)."""
    secret = settings_of(request).secret_key
    token, cookie = auth.login_cookie(secret, request.cookies.get(auth.LOGIN_COOKIE))
    response = page(request, "login.html", None, failed=failed, login_csrf=token)
    response.set_cookie(
        auth.LOGIN_COOKIE, cookie, max_age=auth.LOGIN_HOURS * 3600, **_cookie_flags(request)
    )
    return response


@router.get(
    "/health", tags=["service"],
    responses={503: html("The database is unreachable.")},
)  # fmt: skip
def health(session: Db) -> dict[str, str]:
    """Liveness for the compose healthcheck: the database answers."""
    session.execute(select(1))
    return {"status": "ok"}


@router.get(
    "/login", tags=["session"], response_class=HTMLResponse,
    responses={200: html("The sign-in form.")},
)  # fmt: skip
def login_form(request: Request) -> Response:
    """The sign-in form, with the token its post must carry (and that token's cookie)."""
    return login_page(request, failed=False)


@router.post(
    "/login", tags=["session"], dependencies=[Depends(login_csrf)], status_code=303,
    response_class=RedirectResponse,
    responses={
        303: {"description": "Signed in: to the jobs page, with the session cookie."},
        401: html("Wrong user name or password: the form again."),
        403: html("The sign-in token is missing or stale."),
        503: html("The database is unreachable."),
    },
)  # fmt: skip
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
    response.delete_cookie(auth.LOGIN_COOKIE, **_cookie_flags(request))  # the token is used up
    return response


@router.post(
    "/logout", tags=["session"], dependencies=[Checked], status_code=303,
    response_class=RedirectResponse, responses=PAGE_CHECKED,
)  # fmt: skip
def logout(request: Request, user: SignedIn) -> Response:
    """End the session."""
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/static/{name}", include_in_schema=False)
def static(request: Request, name: str, session: Db) -> Response:
    if f"/static/{name}" not in PUBLIC:
        signed_in(request, session)
    if name not in STATIC:
        return Response(status_code=404)
    content, media = STATIC[name]
    return Response(content(), media_type=media)
