"""A real portal never shows a server path: upload errors and import reports name a file by
its own name only, whatever folder the server kept it in."""

from __future__ import annotations

import io
import os
import shutil
import zipfile
from pathlib import Path

from openpyxl import load_workbook

from tests.exporters.conftest import fill_in
from tests.portal.conftest import Portal
from tests.portal.test_portal import _csrf, _three_protocol_job


def _server_paths(home: Path) -> list[str]:
    """Prefixes that must never reach a user: the data folder (uploads in it), resolved or
    not, and the temporary folder."""
    import tempfile

    return [str(home), str(home.resolve()), tempfile.gettempdir()]


def _no_server_path(text: str, home: Path) -> None:
    for prefix in _server_paths(home):
        assert prefix not in text, (prefix, text)


def test_upload_errors_and_import_reports_name_files_not_server_paths(
    portal: Portal, tmp_path: Path
) -> None:
    """An unreadable workbook (API and page), an import report and a model whose folder
    already exists on the server: each names the file as uploaded, never a path under
    CENR_HOME (its uploads folder) or the temporary folder."""
    home = Path(os.environ["CENR_HOME"])
    alice = portal.client("alice")
    job = _three_protocol_job(alice)
    headers = _csrf(alice)

    garbage = {"workbook": ("my review.xlsx", b"not a workbook", "application/octet-stream")}
    refused = alice.post(f"/api/jobs/{job}/reviews", files=garbage, headers=headers)
    assert refused.status_code == 400
    assert refused.json()["error"].startswith("my review.xlsx: not a readable .xlsx workbook")
    _no_server_path(refused.text, home)
    page = alice.post(f"/jobs/{job}/reviews", files=garbage, headers=headers)
    assert page.status_code == 400
    assert "my review.xlsx: not a readable .xlsx workbook" in page.text
    _no_server_path(page.text, home)

    download = alice.get(f"/jobs/{job}/review.xlsx")
    assert download.status_code == 200
    blank = tmp_path / "blank.xlsx"
    blank.write_bytes(download.content)
    ids = [r[0] for r in load_workbook(blank)["Review"].iter_rows(min_row=2, values_only=True)]
    filled = tmp_path / "filled.xlsx"
    fill_in(blank, filled, {ids[0]: ("3", "advisory board", "alice"), ids[1]: ("9", "", "")})
    upload = {"workbook": ("returned.xlsx", filled.read_bytes(), "application/octet-stream")}
    report = alice.post(f"/api/jobs/{job}/reviews", files=upload, headers=headers)
    assert report.status_code == 200, report.text
    assert report.json()["file"] == "returned.xlsx"
    assert report.json()["imported"] == 1
    assert len(report.json()["rejected"]) == 1
    _no_server_path(report.text, home)

    # a folder of that name already on the server: the message names the model, not where
    models = home / "models"
    ghost = models / "ghost"
    ghost.mkdir()
    try:
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as bundle:
            for path in (models / "tiny").iterdir():
                bundle.write(path, f"ghost/{path.name}")
        files = {"archive": ("ghost.zip", archive.getvalue(), "application/zip")}
        exists = alice.post("/api/models", files=files, headers=headers)
    finally:
        shutil.rmtree(ghost)
    assert exists.status_code == 400, exists.text
    assert exists.json()["error"] == "ghost already exists on this host"
    _no_server_path(exists.text, home)
