"""Request bodies bounded before they are read: who may send one, and how much of it.

The routes parse an upload's form (spooling its files to the temporary folder) before
any dependency runs, so the checks that must come first live here, in a pure ASGI
middleware installed inside Starlette's SessionMiddleware (the session cookie is
decoded) and outside the routes:

* A request with a body (a ``Content-Length`` above 0, or a chunked one) to any path but
  ``/login`` needs a valid session: without one it is answered at once, 401 under
  ``/api/``, a redirect to ``/login`` for pages, and not a byte of its body is read.
* A body declared (``Content-Length``) larger than the limit, ``CENR_MAX_REQUEST_MB``
  (:attr:`Settings.max_request_bytes`), is answered 413 at once. Any other body is
  counted as it streams in, chunked ones too, and answered 413 as soon as it passes the
  limit: reading stops there, and what the routes had spooled is dropped with the form.
  The sign-in form, open to anyone, has a limit of its own, ``LOGIN_BODY_BYTES``.

Refusals carry ``Connection: close``: the server closes the connection after the answer
instead of reading the rest of the body to find the next request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cenr.portal import auth
from cenr.portal.deps import engine_of, settings_of
from schema.database import session_scope
from schema.errors import DatabaseError

LOGIN_BODY_BYTES = 64 * 1024  # the sign-in form: a name, a password and a token
ErrorPage = Callable[[Request, str, int], Response]  # app.error: JSON under /api, else a page
SignInPage = Callable[[Request, Exception], Awaitable[Response]]  # app.sign_in


class BodyTooLarge(Exception):
    """A request body passed its limit while it was read (answered 413)."""


def _declared_length(headers: Headers) -> int | None:
    try:
        return int(headers["content-length"])
    except (KeyError, ValueError):
        return None


def has_body(headers: Headers) -> bool:
    """Whether a request says it carries a body (a length above 0, or chunks)."""
    length = headers.get("content-length")
    return "transfer-encoding" in headers or (length is not None and length.strip() != "0")


def _signed_in(engine: Engine, store: dict[str, object], max_hours: float) -> bool:
    with session_scope(engine) as session:
        return auth.session_user(session, store, max_hours) is not None


def too_large_message(limit: int) -> str:
    """What a 413 says: the limit, and what sets it."""
    if limit == LOGIN_BODY_BYTES:
        return f"a sign-in request is at most {LOGIN_BODY_BYTES // 1024} KB"
    return (
        f"the request is larger than the portal's limit of {limit / 2**20:.1f} MB "
        "(CENR_MAX_REQUEST_MB): upload fewer or smaller files at a time"
    )


class _Counted:
    """A request's body counted as the app reads it: past ``limit``, the read raises
    :class:`BodyTooLarge` and the app's own answer to the cut-short body is dropped (the
    middleware answers 413 instead)."""

    def __init__(self, receive: Receive, send: Send, limit: int) -> None:
        self._receive, self._send, self.limit = receive, send, limit
        self.read = 0
        self.exceeded = False
        self.started = False

    async def receive(self) -> Message:
        if self.exceeded:
            raise BodyTooLarge
        message = await self._receive()
        if message["type"] == "http.request":
            self.read += len(message.get("body", b""))
            if self.read > self.limit:
                self.exceeded = True
                raise BodyTooLarge
        return message

    async def send(self, message: Message) -> None:
        if self.exceeded and not self.started:
            return
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


class BoundedBodies:
    """The middleware: a body only from a signed-in user (or to ``/login``), and none
    larger than the limit; see the module's description."""

    def __init__(self, app: ASGIApp, error: ErrorPage, sign_in: SignInPage) -> None:
        self.app, self.error, self.sign_in = app, error, sign_in

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not has_body(headers := Headers(scope=scope)):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        public = scope["path"] == auth.LOGIN_PATH
        limit = LOGIN_BODY_BYTES if public else settings_of(request).max_request_bytes
        refusal = None if public else await self._anonymous(request)
        declared = _declared_length(headers)
        if refusal is None and declared is not None and declared > limit:
            refusal = self.error(request, too_large_message(limit), 413)
        if refusal is None:
            refusal = await self._counted(request, receive, send, limit)
        if refusal is not None:
            refusal.headers["Connection"] = "close"  # the rest of the body stays unread
            await refusal(scope, receive, send)

    async def _anonymous(self, request: Request) -> Response | None:
        """The answer to a request without a valid session, else None (the database is
        asked in a worker thread: the event loop goes on serving)."""
        settings, engine = settings_of(request), engine_of(request)
        try:
            if await run_in_threadpool(_signed_in, engine, request.session, settings.session_hours):
                return None
        except DatabaseError as exc:
            return self.error(request, " ".join(str(exc).split()), 503)
        return await self.sign_in(request, auth.SignInRequired())

    async def _counted(
        self, request: Request, receive: Receive, send: Send, limit: int
    ) -> Response | None:
        """Run the app with the body counted; the 413 to send if it passed ``limit``
        before the app started its answer."""
        counted = _Counted(receive, send, limit)
        try:
            await self.app(request.scope, counted.receive, counted.send)
        except Exception:
            if not counted.exceeded or counted.started:  # not the app's trouble with a cut body
                raise
        if counted.exceeded and not counted.started:
            return self.error(request, too_large_message(limit), 413)
        return None
