"""Every portal route, found from the app itself, against sign-in, roles and CSRF.

A route added later is covered without editing this file: it must depend on a signed-in
user unless it is on the allow-list, and on a CSRF check if it changes state (the sign-in
form, which has no session yet, on its own pre-session token). Only which routes are
admin-only is written down here, so a change of role is a visible decision.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from itsdangerous import TimestampSigner

from tests.portal.conftest import PASSWORDS, SECRET, Portal, login_token, sign_in
from tests.portal.test_portal import PUBLIC, _csrf

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
SIGN_IN = ("POST", "/login")  # makes the session: checked by the form's pre-session token
ADMIN_ONLY = {
    ("POST", "/jobs"),
    ("GET", "/jobs/{job_id}/next.xlsx"),
    ("POST", "/jobs/{job_id}/assignments"),
    ("POST", "/api/jobs/{job_id}/assignments"),
    ("POST", "/jobs/{job_id}/rounds"),
    ("POST", "/api/jobs/{job_id}/rounds"),
    ("GET", "/models"),
    ("POST", "/models"),
    ("POST", "/api/jobs"),
    ("GET", "/api/models"),
    ("POST", "/api/models"),
    ("GET", "/jobs/{job_id}/history.csv"),
    ("GET", "/api/jobs/{job_id}/history"),
}


def _dependencies(dependant: Any) -> set[str]:
    """Names of every dependency a route's handler waits for, however deep."""
    names: set[str] = set()
    for sub in dependant.dependencies:
        names.add(getattr(sub.call, "__name__", ""))
        names |= _dependencies(sub)
    return names


@pytest.fixture(scope="module")
def routes(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], set[str]]:
    """(method, path) -> the dependencies guarding it, from the routers a real app is
    built from (and checked to serve)."""
    from cenr.portal.app import api_routes, create_app
    from worker.settings import get_settings

    database = f"sqlite:///{tmp_path_factory.mktemp('routes') / 'db.sqlite3'}"
    settings = get_settings().model_copy(update={"secret_key": SECRET, "database_url": database})
    app = create_app(settings)
    app.state.engine.dispose()
    found = {
        (method, route.path): _dependencies(route.dependant)
        for route in api_routes()
        for method in route.methods
    }
    served = {(m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops}
    assert served <= set(found), "the app serves what its routers hold"
    assert len(found) >= 15
    return found


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_route_declares_its_guards(routes: dict[tuple[str, str], set[str]]) -> None:
    """Every route declares its guards: a session for non-public routes, a CSRF check for each state
    change, and the admin check on exactly the admin-only routes."""
    for (method, path), guards in routes.items():
        if (method, path) in PUBLIC:
            assert "admin" not in guards, (method, path)
            if method not in SAFE_METHODS:
                assert "login_csrf" in guards, f"{method} {path} changes state without a CSRF check"
            continue
        assert "signed_in" in guards, f"{method} {path} is reachable without a session"
        if method not in SAFE_METHODS:
            assert "csrf" in guards, f"{method} {path} changes state without a CSRF check"
        admin = "admin" in guards
        assert admin == ((method, path) in ADMIN_ONLY), (
            f"{method} {path}: admin-only is {admin}; update ADMIN_ONLY if that is intended"
        )
    assert {m for m, _ in routes} - SAFE_METHODS <= {"POST"}, "new methods need CSRF cases"
    assert set(routes) >= ADMIN_ONLY, "an admin-only route is gone"
    assert all(method in SAFE_METHODS for method, _ in PUBLIC - {SIGN_IN})
    assert "login_csrf" in routes[SIGN_IN], "sign-in checks the form's own token"


def test_reviewers_are_refused_every_admin_route(
    portal: Portal, routes: dict[tuple[str, str], set[str]]
) -> None:
    """A reviewer is refused every admin-only route with a 403 saying it needs an admin."""
    rob = portal.client("rob")
    headers = _csrf(rob)
    for method, path in sorted(ADMIN_ONLY):
        response = rob.request(method, _url(path), headers=headers)
        assert response.status_code == 403, (method, path, response.status_code)
        if path.startswith("/api/"):
            assert "needs an admin" in response.json()["error"], (method, path)
        else:
            assert "needs an admin" in response.text, (method, path)


def test_state_changing_routes_need_the_sessions_own_csrf_token(
    portal: Portal, routes: dict[tuple[str, str], set[str]]
) -> None:
    """Every state-changing route refuses a missing, empty, forged, truncated or another user's CSRF
    token, and sign-in does not accept the session's token in place of its own."""
    alice, rob = portal.client("alice"), portal.client("rob")
    own, foreign = _csrf(alice)["X-CSRF-Token"], _csrf(rob)["X-CSRF-Token"]
    assert own != foreign
    changing = sorted(k for k in routes if k[0] not in SAFE_METHODS)
    assert SIGN_IN in changing
    assert len(changing) >= 7
    attempts: list[dict[str, Any]] = [
        {},  # no token at all
        {"headers": {"X-CSRF-Token": ""}},
        {"headers": {"X-CSRF-Token": "forged"}},
        {"headers": {"X-CSRF-Token": foreign}},  # another user's valid token
        {"data": {"csrf_token": foreign}},  # the same, in a form field
        {"data": {"csrf_token": own[:-1]}},
    ]
    login_token(alice)  # a valid sign-in cookie of her own: the tokens must still match it
    for method, path in changing:
        for attempt in attempts:
            response = alice.request(method, _url(path), **attempt)
            assert response.status_code == 403, (method, path, attempt, response.status_code)
            assert "security token" in response.text, (method, path, attempt)
    rob_signs_in = {"username": "rob", "password": PASSWORDS["rob"]}
    session_token = alice.post("/login", data=rob_signs_in, headers={"X-CSRF-Token": own})
    assert session_token.status_code == 403, "the session's token is not a sign-in token"
    assert alice.get("/api/me").json()["username"] == "alice", "nothing was done"


def _cookie(secret: str, session: dict[str, Any]) -> str:
    """A session cookie as Starlette's SessionMiddleware signs it."""
    import base64
    import json

    data = base64.b64encode(json.dumps(session).encode())
    return TimestampSigner(secret).sign(data).decode()


def test_forged_and_expired_sessions_are_refused(portal: Portal) -> None:
    """The session cookie is HttpOnly and SameSite=Strict, and a cookie signed with another key,
    expired or unsigned counts as signed out."""
    login = sign_in(portal.client(), "rob")
    assert login.status_code == 303, login.text
    [set_cookie] = [
        c.lower() for c in login.headers.get_list("set-cookie") if c.startswith("cenr_session=")
    ]
    assert "httponly" in set_cookie
    assert "samesite=strict" in set_cookie
    sessions = {
        "signed with another key": _cookie("x" * 48, {"uid": 1, "at": 2**31, "csrf": "t"}),
        "expired": _cookie(SECRET, {"uid": 1, "at": 0, "csrf": "t"}),
        "unsigned": "eyJ1aWQiOiAxfQ==",
    }
    for what, value in sessions.items():
        client = httpx.Client(base_url=portal.url, cookies={"cenr_session": value})
        portal.clients.append(client)
        assert client.get("/api/me").status_code == 401, what
        assert client.get("/api/models").status_code == 401, what
        assert client.get("/").status_code == 303, what
