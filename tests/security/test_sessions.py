"""Sessions that end, sign-ins that are throttled, keys and passwords that cannot be
guessed: each tried on a real `cenr serve` (findings 1 and 6 of the roles issue)."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from itsdangerous import TimestampSigner

from cenr.cli import main
from tests.portal.conftest import PASSWORDS, SECRET, Portal, login_token, sign_in

PLACEHOLDER = "change-me-to-at-least-32-random-characters-please"  # deploy/.env.example's


def _serve_refuses(secret: str, tmp_path: Path) -> str:
    """What `cenr serve` prints when it refuses to start with ``secret``."""
    env = {**os.environ, "CENR_SECRET_KEY": secret, "CENR_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "cenr.cli", "serve", "--port", "1"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode != 0, done.stdout + done.stderr
    return done.stderr.strip()


@pytest.mark.parametrize("secret", [PLACEHOLDER, "a" * 40, "abcd" * 12, "short"])
def test_serve_refuses_the_placeholder_and_guessable_keys(secret: str, tmp_path: Path) -> None:
    """The example file's placeholder, a repeated letter, a repeated pattern and a short key
    are refused in one line that says how to make a key."""
    message = _serve_refuses(secret, tmp_path)
    assert len(message.splitlines()) == 1, message
    assert "CENR_SECRET_KEY" in message
    assert "secrets.token_urlsafe(48)" in message


def test_the_example_file_holds_the_refused_placeholder() -> None:
    example = (Path(__file__).parents[2] / "deploy" / ".env.example").read_text()
    assert f"CENR_SECRET_KEY={PLACEHOLDER}" in example


def _cookie(session: dict[str, Any]) -> str:
    """A session cookie signed with the portal's real key, as SessionMiddleware signs it."""
    data = base64.b64encode(json.dumps(session).encode())
    return TimestampSigner(SECRET).sign(data).decode()


def _client(portal: Portal, cookie: str) -> httpx.Client:
    client = httpx.Client(base_url=portal.url, cookies={"cenr_session": cookie}, timeout=60)
    portal.clients.append(client)
    return client


def _session_cookie(client: httpx.Client) -> str:
    value = client.cookies.get("cenr_session")
    assert value
    return value


def test_forged_cookies_with_the_real_key_are_refused(portal: Portal) -> None:
    """Finding 1: with the key, a cookie naming user 1 (the admin) used to be accepted, and a
    sign-in time in the future never expired. Now a session must exist on the server; a
    real session's cookie re-signed with a future time is refused too."""
    far = int(time.time()) + 10 * 365 * 86400
    assert (
        _client(portal, _cookie({"uid": 1, "at": far, "csrf": "t"})).get("/api/me").status_code
        == 401
    )
    assert _client(portal, _cookie({"sid": "guess", "at": far})).get("/api/me").status_code == 401
    alice = portal.client("alice")
    decoded = json.loads(base64.b64decode(_session_cookie(alice).split(".")[0]))
    assert _client(portal, _cookie(decoded)).get("/api/me").status_code == 200, "re-signed as is"
    future = _client(portal, _cookie({**decoded, "at": far}))
    assert future.get("/api/me").status_code == 401


def test_logout_ends_the_session_on_the_server(portal: Portal) -> None:
    """Finding 6: the cookie replayed after logout is a 401."""
    rob = portal.client("rob")
    cookie = _session_cookie(rob)
    token = rob.get("/api/me").json()["csrf_token"]
    assert rob.post("/logout", headers={"X-CSRF-Token": token}).status_code == 303
    assert _client(portal, cookie).get("/api/me").status_code == 401


def _add(name: str, password: str, role: str = "reviewer") -> int:
    stdin = sys.stdin
    sys.stdin = io.StringIO(password + "\n")
    try:
        return main(["users", "add", name, "--role", role, "--password-stdin"])
    finally:
        sys.stdin = stdin


def test_a_password_reset_or_disabling_ends_every_session(
    portal: Portal, capsys: pytest.CaptureFixture[str]
) -> None:
    """Finding 6: after `cenr users add` resets rob's password, both of his sessions are
    refused; after `cenr users disable`, alice's are, and she cannot sign in."""
    rob_one, rob_two = portal.client("rob"), portal.client("rob")
    assert _add("rob", "an entirely new passphrase for rob") == 0
    for client in (rob_one, rob_two):
        assert client.get("/api/me").status_code == 401
    alice = portal.client("alice")
    assert main(["users", "disable", "alice"]) == 0
    assert "1 session(s) ended" in capsys.readouterr().out
    assert alice.get("/api/me").status_code == 401
    assert sign_in(portal.client(), "alice").status_code == 401
    assert main(["users", "disable", "nobody"]) == 1
    assert "no user 'nobody'" in capsys.readouterr().err


def test_the_sign_in_token_works_once(portal: Portal) -> None:
    """Finding 6: a sign-in form's token (with its cookie) posted again is refused, even
    with the right password, and even after the first session logged out."""
    client = portal.client()
    token = login_token(client)
    login_cookie = client.cookies.get("cenr_login")
    form = {"username": "rob", "password": PASSWORDS["rob"], "csrf_token": token}
    assert client.post("/login", data=form).status_code == 303
    replay = httpx.Client(
        base_url=portal.url, timeout=60, cookies={"cenr_login": login_cookie or ""}
    )
    portal.clients.append(replay)
    for _ in range(2):
        again = replay.post("/login", data=form)
        assert again.status_code == 403, again.text
        assert "already used" in again.text


@pytest.mark.parametrize(
    ("password", "why"),
    [
        (" " * 12, "blank"),
        ("aaaaaaaaaaaa", "repeated"),
        ("abcabcabcabcabc", "repeated"),
        ("password1234", "too common"),
        ("rob-rob-rob-rob", "repeated"),
        ("short", "at least 12"),
    ],
)
def test_weak_passwords_are_refused(
    password: str, why: str, sqlite_service: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Finding 6: twelve spaces, repeated runs and common passwords are refused with the
    rule they break; a passphrase is accepted."""
    assert _add("rob", password) == 1
    assert why in capsys.readouterr().err
    assert _add("rob", "an entirely new passphrase for rob") == 0


def _wrong(client: httpx.Client, user: str, address: str = "") -> httpx.Response:
    headers = {"X-Forwarded-For": address} if address else {}
    token = login_token(client)
    data = {"username": user, "password": "not the password at all", "csrf_token": token}
    return client.post("/login", data=data, headers=headers)


def test_failed_sign_ins_are_throttled_per_account_and_logged(portal: Portal) -> None:
    """Finding 6: thirty wrong passwords, then the right one, used to sign in. Now the
    sixth try on an account waits (429, Retry-After), the wait grows with further
    failures, the right password waits its turn too, the attempts are logged, and once the
    wait is over the owner signs in: a stranger cannot hold the account for long."""
    client = portal.client()
    answers = [_wrong(client, "alice").status_code for _ in range(30)]
    assert answers[:5] == [401] * 5
    assert set(answers[5:]) <= {401, 429}, answers
    assert answers.count(429) >= 20, answers
    right = sign_in(client, "alice")
    assert right.status_code == 429, "the right password waits its turn"
    first_wait = int(right.headers["Retry-After"])
    assert 1 <= first_wait <= 60
    time.sleep(first_wait + 0.5)  # the throttle's own clock: the wait it announced
    assert _wrong(client, "alice").status_code == 401
    grown = _wrong(client, "alice")
    assert grown.status_code == 429
    assert first_wait < int(grown.headers["Retry-After"]) <= 60
    time.sleep(int(grown.headers["Retry-After"]) + 0.5)
    assert sign_in(client, "alice").status_code == 303
    log = portal.process.output()
    assert "failed sign-in: user 'alice'" in log
    assert "sign-in throttled: user 'alice'" in log


def test_one_address_trying_many_names_is_throttled(portal: Portal) -> None:
    """A client address that fails for ten names waits, whatever name it tries next; the
    same names from another address are not held up by it."""
    client = portal.client()
    for n in range(10):
        assert _wrong(client, f"name{n}", "10.9.8.7").status_code == 401
    held = _wrong(client, "rob", "10.9.8.7")
    assert held.status_code == 429
    assert int(held.headers["Retry-After"]) >= 1
    elsewhere = portal.client()
    headers = {"X-Forwarded-For": "10.1.1.1"}
    token = login_token(elsewhere)
    data = {"username": "rob", "password": PASSWORDS["rob"], "csrf_token": token}
    assert elsewhere.post("/login", data=data, headers=headers).status_code == 303


def _peak_memory_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_forty_parallel_sign_ins_are_hashed_a_few_at_a_time(portal: Portal) -> None:
    """Finding 6: forty parallel sign-ins cost 0.9 GB (Argon2 at 64 MiB each). Now at
    most two hash at once: the server's peak memory grows by well under that, and every
    sign-in is answered."""
    clients = [httpx.Client(base_url=portal.url, timeout=120) for _ in range(40)]
    portal.clients.extend(clients)
    tokens = [login_token(c) for c in clients]
    pid = portal.process.popen.pid
    before = _peak_memory_mb(pid)
    answers: list[int] = []
    start = threading.Barrier(40)

    def attempt(client: httpx.Client, token: str) -> None:
        start.wait()
        data = {"username": "rob", "password": PASSWORDS["rob"], "csrf_token": token}
        answers.append(client.post("/login", data=data).status_code)

    threads = [
        threading.Thread(target=attempt, args=pair) for pair in zip(clients, tokens, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    grown = _peak_memory_mb(pid) - before
    print(
        f"40 parallel sign-ins: peak memory {before:.0f} -> {before + grown:.0f} MB (+{grown:.0f})"
    )
    assert sorted(answers) == [303] * 40
    assert grown < 300, f"+{grown:.0f} MB"
