"""Cookies that never cross the network in clear: compose turns on ``Secure`` unless the
office opts out, and a real `cenr serve` so configured marks both of its cookies
``Secure`` (finding 6 of the roles issue: cookies lacked it while compose published plain
HTTP)."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.deploy.compose import interpolate, load_yaml, read_env_file
from tests.portal.conftest import PASSWORDS, Portal


@pytest.fixture
def portal_env() -> dict[str, str]:
    return {"CENR_SECURE_COOKIES": "true"}


def test_compose_sets_secure_cookies_unless_env_opts_out() -> None:
    example = read_env_file()
    web = interpolate(load_yaml(), example)["services"]["web"]["environment"]
    assert web["CENR_SECURE_COOKIES"] == "true", "the example .env keeps them on"
    unset = {k: v for k, v in example.items() if k != "CENR_SECURE_COOKIES"}
    web = interpolate(load_yaml(), unset)["services"]["web"]["environment"]
    assert web["CENR_SECURE_COOKIES"] == "true", "on when .env says nothing"
    web = interpolate(load_yaml(), {**example, "CENR_SECURE_COOKIES": "false"})
    assert web["services"]["web"]["environment"]["CENR_SECURE_COOKIES"] == "false"


def _set_cookie(response: httpx.Response, name: str) -> tuple[str, set[str]]:
    [header] = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    value, *flags = header.split(";")
    return value.split("=", 1)[1], {f.strip().lower().split("=")[0] for f in flags}


def test_both_cookies_are_secure(portal: Portal) -> None:
    """The sign-in form's cookie and the session cookie both carry ``Secure`` (and stay
    HttpOnly and SameSite=Strict); the browser would send them over HTTPS only."""
    client = httpx.Client(base_url=portal.url, timeout=60)
    portal.clients.append(client)
    form = client.get("/login")
    login, flags = _set_cookie(form, "cenr_login")
    assert {"secure", "httponly", "samesite"} <= flags
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token
    data = {"username": "alice", "password": PASSWORDS["alice"], "csrf_token": token.group(1)}
    signed = httpx.post(
        f"{portal.url}/login", data=data, headers={"Cookie": f"cenr_login={login}"}, timeout=60
    )
    assert signed.status_code == 303, signed.text
    _, flags = _set_cookie(signed, "cenr_session")
    assert {"secure", "httponly", "samesite"} <= flags
