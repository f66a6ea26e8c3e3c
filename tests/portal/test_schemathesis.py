"""Schemathesis against a real, signed-in ``cenr serve``: generated requests for every
operation of the OpenAPI document, each response checked against what it documents."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.portal.conftest import Portal
from tests.portal.test_portal import _csrf, _csv_bytes, _wait_done

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
# Every check that applies to this API. Left out: ignored_auth and the two object-level
# checks need a second, unauthenticated credential schemathesis cannot sign in for
# (test_portal.py proves every route refuses anonymous requests), and
# positive_data_acceptance treats a protocol file the portal refuses (a .txt it cannot
# read, say) as a schema violation, when that refusal is its documented 400.
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_headers_conformance,response_schema_conformance,negative_data_rejection,"
    "missing_required_header,unsupported_method"
)


def test_generated_requests_get_only_documented_answers(portal: Portal, tmp_path: Path) -> None:
    """No generated request gets a server error or a status, content type or body its
    operation does not document (sign-out is left out: it would end the run's session)."""
    alice = portal.client("alice")
    files = {"files": ("export.csv", _csv_bytes(3), "text/csv")}
    created = alice.post("/api/jobs", files=files, headers=_csrf(alice))
    assert created.status_code == 201, created.text
    job = created.json()["job"]
    _wait_done(alice, job)  # a real job, so the job operations get past their 404s
    (tmp_path / "schemathesis.toml").write_text(f'[parameters]\njob_id = "{job}"\n')
    schema = alice.get("/api/openapi.json")
    assert schema.status_code == 200, schema.text
    (tmp_path / "openapi.json").write_text(schema.text, encoding="utf-8")
    documented = json.loads(schema.text)["paths"]
    assert "404" in documented["/api/jobs/{job_id}"]["get"]["responses"]
    cookie = "; ".join(f"{name}={value}" for name, value in alice.cookies.items())
    token = alice.get("/api/me").json()["csrf_token"]
    result = subprocess.run(
        [
            str(SCHEMATHESIS), "--config-file", str(tmp_path / "schemathesis.toml"), "run",
            str(tmp_path / "openapi.json"), "--url", portal.url,
            "-H", f"Cookie: {cookie}", "-H", f"X-CSRF-Token: {token}",
            "--checks", CHECKS, "--exclude-path", "/logout",
            "--max-examples", "50", "--seed", "13", "--workers", "1",
            "--phases", "examples,coverage,fuzzing", "--no-color",
            "--request-timeout", "60", "--suppress-health-check", "all",
        ],
        capture_output=True, text=True, timeout=900, check=False, cwd=tmp_path,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    counted = re.search(r"(\d+) generated, (\d+) passed", output)
    assert counted, output[-3000:]
    assert int(counted[1]) == int(counted[2]) >= 300, counted[0]
    operations = sum(len(methods) for path, methods in documented.items() if path != "/logout")
    assert operations >= 13
    assert f"Tested: {operations}" in output, "every documented operation was exercised"
    assert alice.get("/api/me").status_code == 200, "the session survived the run"
