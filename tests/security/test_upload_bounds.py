"""Uploads bounded before they are read, against a real `cenr serve`: a stranger's body is
refused unread, a body past CENR_MAX_REQUEST_MB is cut off at the limit, a review
workbook that unpacks to a gigabyte is refused before it is unpacked, and heavy downloads
take a turn.

The server runs with a test-sized limit and a TMPDIR of its own; what it holds on disk
(files in its temporary and uploads folders, and the unlinked temporary files it keeps
open there, seen through /proc/PID/fd) is sampled while each request runs, and its
memory read from /proc/PID/status.
"""

from __future__ import annotations

import contextlib
import io
import stat
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from openpyxl import Workbook

from cenr.cli import main
from tests.portal.conftest import PASSWORDS, SECRET, Portal, sign_in
from tests.portal.test_portal import _csrf
from tests.worker.cluster import finish_job, waiting_job

MB = 2**20
LIMIT_MB = 8  # CENR_MAX_REQUEST_MB for these servers
UNZIPPED_MB = 50  # CENR_MAX_UNZIPPED_MB
BIG = 1000 * MB  # what the stranger and the careless admin send: about 1 GB
BOMB_BYTES = 1_000_000_000  # the zip bomb's one cell, unpacked


@pytest.fixture
def portal_env(tmp_path: Path) -> dict[str, str]:
    """The server's settings (read by the portal fixture): small limits, its own TMPDIR."""
    scratch = tmp_path / "server-tmp"
    scratch.mkdir()
    return {
        "TMPDIR": str(scratch),
        "CENR_MAX_REQUEST_MB": str(LIMIT_MB),
        "CENR_MAX_UNZIPPED_MB": str(UNZIPPED_MB),
    }


class DiskWatch:
    """The most bytes the server held under ``folders`` while the block ran (sampled every
    10 ms), over what it held before: their files, and the files the server process holds
    open there (a spooled upload is an unlinked temporary file, seen only in /proc)."""

    def __init__(self, pid: int, folders: list[Path]) -> None:
        self.pid, self.folders = pid, [f.resolve() for f in folders]
        self.before = self.peak = self.after = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def held(self) -> int:
        sizes: dict[int, int] = {}
        for folder in self.folders:
            for path in folder.rglob("*"):
                with contextlib.suppress(OSError):
                    info = path.stat()
                    if stat.S_ISREG(info.st_mode):
                        sizes[info.st_ino] = info.st_size
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{self.pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if fd.readlink().as_posix().startswith(tuple(map(str, self.folders))):
                        info = fd.stat()  # the open file itself, unlinked or not
                        sizes[info.st_ino] = info.st_size
        return sum(sizes.values())

    def _sample(self) -> None:
        while not self._done.wait(0.01):
            self.peak = max(self.peak, self.held())

    def __enter__(self) -> DiskWatch:
        self.before = self.peak = self.held()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()
        self.after = self.held()
        self.peak = max(self.peak, self.after)

    @property
    def growth(self) -> int:
        return self.peak - self.before


class Body:
    """A multipart body of one file of ``size`` zero bytes, made while it is sent;
    ``sent`` counts what the client got to hand over before the server's answer."""

    BOUNDARY = "cenr-test-boundary-7f3a"

    def __init__(self, field: str, name: str, size: int) -> None:
        self.head = (
            f'--{self.BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; '
            f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        self.tail = f"\r\n--{self.BOUNDARY}--\r\n".encode()
        self.size, self.sent = size, 0

    def __len__(self) -> int:
        return len(self.head) + self.size + len(self.tail)

    def __iter__(self) -> Iterator[bytes]:
        chunk = bytes(MB)
        for part in (self.head, *[chunk] * (self.size // MB), self.tail):
            self.sent += len(part)
            yield part

    def headers(self, declared: bool) -> dict[str, str]:
        """Chunked, or (``declared``) with its whole length in Content-Length."""
        headers = {"Content-Type": f"multipart/form-data; boundary={self.BOUNDARY}"}
        return {**headers, "Content-Length": str(len(self))} if declared else headers


@dataclass
class Server:
    """The portal, and the TMPDIR it spools uploads to."""

    portal: Portal
    tmp: Path

    @property
    def pid(self) -> int:
        return self.portal.process.popen.pid

    def post(
        self, client: httpx.Client, path: str, body: Body, declared: bool = False,
        headers: dict[str, str] | None = None,
    ) -> tuple[httpx.Response, DiskWatch, float]:  # fmt: skip
        """Stream ``body`` to ``path``: the answer, the server's disk meanwhile, seconds."""
        start = time.monotonic()
        with DiskWatch(self.pid, [self.tmp, self.portal.uploads]) as disk:
            response = client.post(
                path, content=iter(body), headers={**body.headers(declared), **(headers or {})}
            )
        return response, disk, time.monotonic() - start

    def memory(self) -> dict[str, int]:
        """The server's resident memory now and at its peak (VmRSS, VmHWM), in bytes."""
        lines = Path(f"/proc/{self.pid}/status").read_text().splitlines()
        fields = dict(line.split(":", 1) for line in lines)
        return {key: int(fields[key].split()[0]) * 1024 for key in ("VmRSS", "VmHWM")}

    def reset_peak(self) -> None:
        """Start the peak (VmHWM) afresh from the current resident size."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")


@pytest.fixture
def server(portal: Portal, portal_env: dict[str, str]) -> Server:
    portal.uploads.mkdir(parents=True, exist_ok=True)
    return Server(portal, Path(portal_env["TMPDIR"]))


def _report(what: str, response: httpx.Response, disk: DiskWatch, body: Body, took: float) -> None:
    print(
        f"{what}: {response.status_code} after {took:.2f} s; the client sent "
        f"{body.sent / MB:.1f} of {len(body) / MB:.0f} MB; the server's disk +"
        f"{disk.growth / MB:.2f} MB at the peak, +{(disk.after - disk.before) / MB:.2f} MB after"
    )


def test_a_strangers_upload_is_refused_before_a_byte_is_stored(server: Server) -> None:
    """An anonymous 1 GB upload (chunked, or declared) to the API's and the pages' upload
    routes is answered at once, 401 or the sign-in redirect, and the server's temporary
    and uploads folders do not grow."""
    anonymous = server.portal.client()
    for path, field in (
        ("/api/jobs", "files"), ("/jobs", "files"), ("/api/models", "archive"),
        ("/api/jobs/0123456789abcdef/reviews", "workbook"),
        ("/jobs/0123456789abcdef/reviews", "workbook"),
    ):  # fmt: skip
        for declared in (False, True):
            body = Body(field, "big.csv", BIG)
            response, disk, took = server.post(anonymous, path, body, declared)
            _report(f"anonymous {path} declared={declared}", response, disk, body, took)
            if path.startswith("/api/"):
                assert response.status_code == 401, response.text
                assert "sign in" in response.json()["error"]
            else:
                assert response.status_code == 303, response.text
                assert response.headers["location"] == "/login"
            assert disk.growth < MB, f"{disk.growth} bytes stored for a stranger"
            assert body.sent < BIG / 4, "the server read on instead of closing the connection"
            assert took < 30
    anonymous.cookies.clear()
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    huge_login = anonymous.post("/login", content=b"password=" + bytes(MB), headers=form)
    assert huge_login.status_code == 413, "the sign-in form, open to anyone, has a small limit"


def test_a_signed_in_upload_past_the_limit_is_cut_off_at_the_limit(server: Server) -> None:
    """An admin's 1 GB upload is 413 as soon as it passes CENR_MAX_REQUEST_MB: at once when
    Content-Length says so (nothing stored), else after about the limit's bytes (what was
    spooled is dropped); the session goes on working."""
    alice = server.portal.client("alice")
    headers = _csrf(alice)
    for path in ("/api/jobs", "/jobs"):
        for declared in (True, False):
            body = Body("files", "big.csv", BIG)
            response, disk, took = server.post(alice, path, body, declared, headers)
            _report(f"admin {path} declared={declared}", response, disk, body, took)
            assert response.status_code == 413, response.text
            message = response.json()["error"] if path.startswith("/api/") else response.text
            assert f"limit of {LIMIT_MB:.1f} MB (CENR_MAX_REQUEST_MB)" in message
            assert disk.growth < (1 if declared else LIMIT_MB + 2) * MB
            assert disk.after - disk.before < MB, "what was spooled is dropped"
            assert body.sent < BIG / 4
            assert took < 30
    assert alice.get("/api/me").status_code == 200
    small = alice.post("/api/jobs", files={"files": ("x.exe", b"x", "text/plain")}, headers=headers)
    assert small.status_code == 400, "a body within the limit reaches the route"


def _bomb(path: Path, size: int) -> Path:
    """A valid .xlsx (a _cenr sheet, as review workbooks have) whose one cell holds
    ``size`` zeros: its sheet unpacks to about ``size`` bytes, zipped to about a
    thousandth of that."""
    book = Workbook()
    assert book.active is not None
    book.active.title = "_cenr"
    book.active["A1"] = "BOMB"
    plain = io.BytesIO()
    book.save(plain)
    with (
        zipfile.ZipFile(plain) as source,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bomb,
    ):
        for info in source.infolist():
            content = source.read(info)
            if info.filename != "xl/worksheets/sheet1.xml":
                bomb.writestr(info, content)
                continue
            head, tail = content.split(b"BOMB")
            with bomb.open(info.filename, "w", force_zip64=True) as part:
                part.write(head)
                for _ in range(size // MB):
                    part.write(b"0" * MB)
                part.write(tail)
    return path


def test_a_review_workbook_zip_bomb_is_refused_before_it_is_unpacked(
    server: Server, sqlite_service: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A reviewer's workbook whose sheet unpacks to 1 GB (under 1 MB zipped) is 400 naming
    the file and CENR_MAX_UNZIPPED_MB, and the server's memory barely moves; `cenr review
    import` refuses the same file."""
    bomb = _bomb(tmp_path / "review-bomb.xlsx", BOMB_BYTES)
    with zipfile.ZipFile(bomb) as archive:
        unpacked = sum(m.file_size for m in archive.infolist())
    job = waiting_job(sqlite_service, tmp_path / "job", 1)
    finish_job(sqlite_service, job)
    assert main(["review", "assign", job, "rob"]) == 0
    rob = server.portal.client("rob")
    headers = _csrf(rob)
    before = server.memory()
    server.reset_peak()
    response = rob.post(
        f"/api/jobs/{job}/reviews", headers=headers,
        files={"workbook": (bomb.name, bomb.read_bytes(), "application/octet-stream")},
    )  # fmt: skip
    after = server.memory()
    with capsys.disabled():
        print(
            f"bomb: {bomb.stat().st_size / MB:.2f} MB zipped, {unpacked / MB:.0f} MB unpacked; "
            f"server memory {before['VmRSS'] / MB:.0f} MB before, {after['VmRSS'] / MB:.0f} MB "
            f"after, peak {after['VmHWM'] / MB:.0f} MB during the upload"
        )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error.startswith(f"{bomb.name}: unpacks to {unpacked / MB:.0f} MB"), error
    assert f"limit of {UNZIPPED_MB} MB (CENR_MAX_UNZIPPED_MB)" in error
    assert str(tmp_path) not in error
    assert "\n" not in error
    assert after["VmHWM"] - before["VmRSS"] < 100 * MB
    assert after["VmRSS"] - before["VmRSS"] < 50 * MB

    capsys.readouterr()
    assert main(["review", "import", str(bomb)]) == 1
    err = capsys.readouterr().err
    assert f"{bomb.name}: unpacks to {unpacked / MB:.0f} MB" in err
    assert "CENR_MAX_UNZIPPED_MB" in err
    assert str(tmp_path) not in err


def test_heavy_downloads_take_turns(
    sqlite_service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every download slot taken (CENR_PORTAL_HEAVY_CONCURRENCY), a download waits
    for one, then is 503 with Retry-After; once the slot is given back, the next is
    served."""
    from starlette.testclient import TestClient

    from cenr.portal import bounds
    from cenr.portal.app import create_app

    monkeypatch.setenv("CENR_SECRET_KEY", SECRET)
    monkeypatch.setenv("CENR_PORTAL_HEAVY_CONCURRENCY", "1")
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORDS["alice"] + "\n"))
    assert main(["users", "add", "alice", "--role", "admin", "--password-stdin"]) == 0
    monkeypatch.setattr(bounds, "WAIT_SECONDS", 0.5)
    job = waiting_job(sqlite_service, tmp_path / "job", 1)
    finish_job(sqlite_service, job)
    with TestClient(create_app(), follow_redirects=False) as client:
        assert sign_in(client, "alice").status_code == 303
        with bounds.bounded("download"):  # the one slot, taken by another download
            start = time.monotonic()
            busy = client.get(f"/jobs/{job}/next.xlsx")
            waited = time.monotonic() - start
        assert busy.status_code == 503, busy.text
        assert busy.headers["Retry-After"]
        assert "busy writing other downloads" in busy.text
        assert waited >= 0.5
        served = client.get(f"/jobs/{job}/next.xlsx")  # the slot is free: the route runs
        assert served.status_code == 404, served.text
        assert "no classified protocols" in served.text
