"""File names and archive members that point elsewhere: nothing lands outside its folder.

Upload names from a browser, members of an uploaded model zip, and job IDs that name a
download or an export are all untrusted; each is either reduced to a plain name inside
the intended folder or refused with a message that names the problem.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from cenr.cli import main
from cenr.portal.uploads import PROTOCOL_TYPES, safe_name, save_upload
from schema.errors import CenrError, InputFileError
from tests.portal.conftest import Portal
from tests.portal.test_portal import _csrf, _zip

HOSTILE_NAMES = [
    "../../evil.txt", "../../../../../../tmp/evil.txt", "/etc/evil.txt", "/tmp/evil.txt",
    "..\\..\\evil.txt", "C:\\Windows\\evil.txt", "sub/../../evil.txt", "evil\x00.txt",
    "evil\x00/../../x.txt", "line\nbreak.txt", "line\r\n../evil.txt", "~/evil.txt",
    "%2e%2e%2fevil.txt", "\u202eevil.txt",
]  # fmt: skip
REFUSED_NAMES = ["", ".", "..", "/", "../", "..\\", "../.env", "x/.hidden.txt", "evil.txt/"]
BAD_MEMBERS = [
    "../x", "/etc/x", "tiny/../../x", "tiny/../../../etc/x", "..\\..\\x", "tiny\\..\\..\\x",
    "C:/x", "C:\\x", "/x", "tiny/sub/../../../x",
]  # fmt: skip


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_upload_names_stay_in_the_requests_folder(tmp_path: Path) -> None:
    """Hostile upload names are saved as plain, visible, distinct files inside the request's folder,
    and unusable names are refused."""
    folder = tmp_path / "uploads" / "request"
    folder.mkdir(parents=True)
    saved = []
    for name in HOSTILE_NAMES:
        path = save_upload(io.BytesIO(b"community partners"), name, folder, 1000, PROTOCOL_TYPES)
        assert path.parent == folder.resolve(), name
        assert not set(path.name) & set("/\\\x00\r\n"), repr(path.name)
        assert not path.name.startswith("."), name
        saved.append(path.name)
    assert len(set(saved)) == len(HOSTILE_NAMES), "same-name files get numbered names"
    for name in REFUSED_NAMES:
        with pytest.raises(InputFileError, match=r"not a usable file name|is not accepted"):
            safe_name(name, PROTOCOL_TYPES)
    assert _tree(tmp_path) == {
        "uploads",
        "uploads/request",
        *(f"uploads/request/{n}" for n in saved),
    }


def test_model_archive_members_cannot_escape(
    sqlite_service: str, trained_home: Path, tmp_path: Path
) -> None:
    """A model archive with an unsafe member name is refused, and a symlink member is written as a
    plain file inside the model's folder."""
    from schema.database import open_database, session_scope
    from worker.model_store import install_archive

    models = tmp_path / "sandbox" / "models"
    models.mkdir(parents=True)
    folder = trained_home / "models" / "tiny"
    engine = open_database(sqlite_service)
    try:
        for member in BAD_MEMBERS:
            archive = _zip(folder, tmp_path / "bad.zip", "tiny-bad", {member: b"x"})
            with session_scope(engine) as session, pytest.raises(InputFileError) as refused:
                install_archive(session, archive, models, 50 * 2**20)
            assert f"unsafe member name {member!r}" in str(refused.value), member
        links = tmp_path / "link.zip"  # a symlink member: written, if at all, as a plain file
        with zipfile.ZipFile(links, "w") as bundle:
            for path in folder.iterdir():
                bundle.write(path, f"linked/{path.name}")
            info = zipfile.ZipInfo("linked/escape")
            info.external_attr = 0o120777 << 16  # S_IFLNK
            bundle.writestr(info, "../../../../etc/passwd")
        with session_scope(engine) as session:
            assert install_archive(session, links, models, 50 * 2**20) == "linked"
    finally:
        engine.dispose()
    escape = models / "linked" / "escape"
    assert not escape.is_symlink()
    assert escape.read_text() == "../../../../etc/passwd"
    assert _tree(tmp_path / "sandbox") == {"models", "models/linked"} | {
        f"models/linked/{p.name}" for p in [*folder.iterdir(), escape]
    }


def test_portal_uploads_and_job_ids_cannot_point_elsewhere(portal: Portal, tmp_path: Path) -> None:
    """Upload names, model archive members and job IDs sent to the portal cannot reach files outside
    its folders, and the uploads are cleared afterwards."""
    alice = portal.client("alice")
    headers = _csrf(alice)
    files = [("files", (name, b"community partners co-lead the study", "text/plain"))
             for name in ["/etc/evil.txt", "..\\..\\evil.txt", "line\nbreak.txt"]]  # fmt: skip
    created = alice.post("/api/jobs", files=files, headers=headers)
    assert created.status_code == 201, created.text
    members = {"archive": ("x.zip", _member_zip("/etc/cenr-evil"), "application/zip")}
    refused = alice.post("/api/models", files=members, headers=headers)
    assert refused.status_code == 400
    assert "unsafe member name '/etc/cenr-evil'" in refused.json()["error"]
    for job in ("..", "%2e%2e", "..%2F..%2Fetc", "....//"):
        for path in (f"/jobs/{job}/review.xlsx", f"/jobs/{job}/review-html.zip"):
            response = alice.get(path)
            assert response.status_code in (400, 404), (path, response.status_code)
    assert not Path("/etc/cenr-evil").exists()
    assert not Path("/etc/evil.txt").exists()
    assert not Path("/tmp/evil.txt").exists()
    assert not any(p.is_file() for p in portal.uploads.rglob("*")), "uploads are cleared"


def _member_zip(name: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr(name, b"x")
    return buffer.getvalue()


def test_export_refuses_a_job_id_that_is_a_path(
    sqlite_service: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A job ID that is a path is refused as an unknown job and nothing is written, from the command
    line and as the portal calls the export."""
    target = tmp_path / "out" / "x.csv"
    for job in ("../../../tmp/evil", "/etc/passwd", "..", "x\x00y"):
        assert main(["export", job, "--csv", str(target)]) != 0
        assert f"no job {job!r}" in capsys.readouterr().err, job
    assert not (tmp_path / "out").exists()
    from schema.database import open_database, session_scope
    from worker.export import export_workbook

    engine = open_database(sqlite_service)
    with session_scope(engine) as session, pytest.raises(CenrError):  # as the portal calls it
        export_workbook(session, "../../evil", tmp_path / "w.xlsx")
    engine.dispose()
    assert not (tmp_path / "w.xlsx").exists()
