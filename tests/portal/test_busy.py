"""Backpressure in the portal: 503 with Retry-After while the queue is full."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.portal.conftest import Portal
from tests.worker.cluster import waiting_job


@pytest.fixture
def full_portal(
    sqlite_service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Portal:  # fmt: skip
    monkeypatch.setenv("CENR_MAX_QUEUED", "1")
    waiting_job(sqlite_service, tmp_path / "earlier", 1)
    portal: Portal = request.getfixturevalue("portal")
    return portal


def test_the_portal_answers_503_while_the_queue_is_full(full_portal: Portal) -> None:
    """While the queue is full, uploads through the API and the form get a 503 with Retry-After and
    create no job and no stored file."""
    alice = full_portal.client("alice")
    token = alice.get("/api/me").json()["csrf_token"]
    upload = {"files": ("new.txt", b"community partners co-lead", "text/plain")}
    response = alice.post("/api/jobs", files=upload, headers={"X-CSRF-Token": token})
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "60"
    assert response.json()["error"].startswith("the queue is full: 1 protocol(s) are waiting")
    form = alice.post("/jobs", files=upload, data={"csrf_token": token})
    assert form.status_code == 503
    assert "the queue is full" in form.text
    assert len(alice.get("/api/jobs").json()) == 1, "nothing new was created"
    assert not any(p.is_file() for p in full_portal.uploads.rglob("*"))
