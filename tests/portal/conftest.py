"""A real `cenr serve` process on a free port, with an admin and a reviewer."""

from __future__ import annotations

import io
import os
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from cenr.cli import main
from tests.worker.cluster import Process, wait_until

SECRET = "test-secret-key-that-is-long-enough-0123456789"  # noqa: S105 (a test's own)
PASSWORDS = {"alice": "alice-admin-password", "rob": "rob-reviewer-password"}


def login_token(client: httpx.Client) -> str:
    """The sign-in form's hidden token, from a ``GET /login`` (its cookie kept by ``client``)."""
    page = client.get("/login")
    assert page.status_code == 200, page.text
    found = re.search(r'<input type="hidden" name="csrf_token" value="([^"]+)">', page.text)
    assert found, "the sign-in form has no token"
    return found.group(1)


def sign_in(client: httpx.Client, user: str, password: str | None = None) -> httpx.Response:
    """Post the sign-in form as a browser does: its token first (``password`` defaults to
    ``PASSWORDS[user]``)."""
    data = {"username": user, "password": PASSWORDS[user] if password is None else password}
    return client.post("/login", data={**data, "csrf_token": login_token(client)})


@dataclass
class Portal:
    url: str
    process: Process
    uploads: Path
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, user: str | None = None) -> httpx.Client:
        """An HTTP client, signed in as ``user`` if given (closed with the portal)."""
        client = httpx.Client(base_url=self.url, follow_redirects=False, timeout=60)
        self.clients.append(client)
        if user:
            response = sign_in(client, user)
            assert response.status_code == 303, response.text
        return client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def extra_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """A test module's own settings for the server: its ``portal_env`` fixture, if it has
    one (a limit sized for the test, the server's TMPDIR)."""
    try:
        return dict(request.getfixturevalue("portal_env"))
    except pytest.FixtureLookupError:
        return {}


@pytest.fixture
def portal(
    sqlite_service: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Iterator[Portal]:
    monkeypatch.setenv("CENR_SECRET_KEY", SECRET)
    for name, role in (("alice", "admin"), ("rob", "reviewer")):
        monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORDS[name] + "\n"))
        assert main(["users", "add", name, "--role", role, "--password-stdin"]) == 0
    port = free_port()
    env = {**os.environ, "CENR_MAX_FILE_MB": "1", **extra_env(request)}
    process = Process(["serve", "--port", str(port)], env, tmp_path / "serve.log")
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(lambda: up() or not process.alive, 60)
    assert up(), process.output()[-3000:]
    home = Path(os.environ["CENR_HOME"])
    running = Portal(url, process, home / "uploads")
    yield running
    for client in running.clients:
        client.close()
    process.stop()
