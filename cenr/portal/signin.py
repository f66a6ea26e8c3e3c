"""Sign-in and out, the health check and the static files: the routes a browser meets
before it has a session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cenr.portal import auth, throttle
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


def portal_css() -> str:
    """The portal's stylesheet, then the one palette of level and confidence-band colours
    the workbook and the HTML pages use (``.level{i}``, ``.band-high``/``-medium``/``-low``)."""
    from exporters.palette import palette_css

    own = (HERE / "static" / "portal.css").read_text()
    return f"{own}\n/* exporters.palette: the workbook's and the pages' colours */\n{palette_css()}"


PUBLIC = {"/login", "/health", "/static/portal.css"}
STATIC: dict[str, tuple[Callable[[], str], str]] = {
    "portal.css": (portal_css, "text/css"),
    "portal.js": (lambda: (HERE / "static" / "portal.js").read_text(), "text/javascript"),
    "cenr.css": (stylesheet, "text/css"),  # the HTML bundle's, so protocol pages match it
    "cenr.js": (script, "text/javascript"),
}

router = APIRouter()


async def login_csrf(request: Request) -> str:
    """The sign-in form's pre-session token (login CSRF), checked before any hashing:
    the form field or header must match the server-signed ``cenr_login`` cookie."""
    secret = settings_of(request).secret_key
    expected = auth.login_cookie_token(secret, request.cookies.get(auth.LOGIN_COOKIE))
    sent = await sent_token(request)
    if not auth.same_token(expected, sent) or sent is None:
        raise auth.Forbidden("the sign-in security token is missing or stale: reload the page")
    return sent


def client_of(request: Request) -> str:
    """The client's address (behind the TLS proxy, the one it forwarded)."""
    return request.client.host if request.client else "unknown"


def too_many(request: Request, seconds: int) -> Response:
    """A throttled sign-in: 429 with the seconds to wait, as a page or JSON."""
    from cenr.portal.app import error

    message = f"too many failed sign-ins: try again in {seconds} s"
    return error(request, message, 429, {"Retry-After": str(seconds)})


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
    "/login", tags=["session"], status_code=303, response_class=RedirectResponse,
    responses={
        303: {"description": "Signed in: to the jobs page, with the session cookie."},
        401: html("Wrong user name or password: the form again."),
        403: html("The sign-in token is missing, stale or already used."),
        413: html("A sign-in form larger than 64 KB."),
        429: html("Too many failed sign-ins for this name or address: Retry-After says "
                  "when to try again."),
        503: html("The database is unreachable, or too many sign-ins at once."),
    },
)  # fmt: skip
def login(
    request: Request,
    session: Db,
    token: Annotated[str, Depends(login_csrf)],
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1000)],
) -> Response:
    """Sign in with a form post; sets the session cookie. The form's ``csrf_token``
    (or an ``X-CSRF-Token`` header) must be the one ``GET /login`` put in the page and
    its ``cenr_login`` cookie; each token serves one sign-in. Failed sign-ins are
    throttled per account and per address (429). API clients read the session's CSRF
    token from ``GET /api/me`` afterwards."""
    client = client_of(request)
    wait = throttle.retry_after(session, username, client)
    if wait:
        return too_many(request, wait)
    if auth.login_token_used(session, token):
        raise auth.Forbidden("this sign-in form was already used: reload the page")
    user = auth.authenticate(session, username, password)
    if user is None:  # the form stays usable: the same token, re-rendered
        throttle.record_failure(session, username, client)
        session.commit()  # counted before the answer leaves: the next try sees it
        response = login_page(request, failed=True)
        response.status_code = 401
        return response
    try:
        auth.start_session(session, request.session, user, token, client)
    except IntegrityError:  # the same form posted twice at once: one of them signs in
        raise auth.Forbidden("this sign-in form was already used: reload the page") from None
    session.commit()  # the session exists before its cookie reaches the browser
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(auth.LOGIN_COOKIE, **_cookie_flags(request))  # the token is used up
    return response


@router.post(
    "/logout", tags=["session"], dependencies=[Checked], status_code=303,
    response_class=RedirectResponse, responses=PAGE_CHECKED,
)  # fmt: skip
def logout(request: Request, session: Db, user: SignedIn) -> Response:
    """End the session, on the server too: the cookie replayed afterwards is refused."""
    auth.end_session(session, request.session)
    session.commit()
    return RedirectResponse("/login?signed-out", status_code=303)


@router.get("/static/{name}", include_in_schema=False)
def static(request: Request, name: str, session: Db) -> Response:
    if f"/static/{name}" not in PUBLIC:
        signed_in(request, session)
    if name not in STATIC:
        return Response(status_code=404)
    content, media = STATIC[name]
    return Response(content(), media_type=media)
