"""A full disk under the exports or the inbox: a clear error, no half-written file left
looking complete (exports are written to a temporary name and renamed), nothing lost.

The disk is a small tmpfs mounted for the test (the suite runs as root) and filled up.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cenr.cli import main
from tests.conftest import demo_rows, write_export
from tests.worker.cluster import Process, wait_until


class Disk:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fill(self) -> None:
        """Take every free byte (a hidden file: the watcher leaves it alone)."""
        with (self.path / ".filler").open("ab", buffering=0) as handle:
            try:
                while True:
                    handle.write(b"\0" * 4096)
            except OSError:
                pass
        assert os.statvfs(self.path).f_bavail == 0


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Disk]:
    path = tmp_path / "disk"
    path.mkdir()
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(path)],
                           capture_output=True, text=True, check=False)  # fmt: skip
    if mount.returncode:
        pytest.fail(f"mounting a small tmpfs needs root: {mount.stderr.strip()}")
    try:
        yield Disk(path)
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def test_exports_to_a_full_disk_fail_clearly_and_leave_no_partial_file(
    use_trained: Path, full_disk: Disk, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exports to a full disk fail with a clear message and leave no partial or temporary file, and
    the same export works once there is room."""
    write_export(tmp_path / "inbox" / "export.csv", demo_rows(6))
    out = full_disk.path / "out"
    out.mkdir()
    full_disk.fill()
    assert main(["run", str(tmp_path / "inbox"), "--out", str(out), "--model", "tiny"]) == 1
    printed = capsys.readouterr().out
    assert "6 done, 0 failed" in printed
    assert f"cannot write the exports to {out}: [Errno 28] No space left on device" in printed
    assert sorted(p.name for p in out.iterdir()) == [], "no partial or temporary file"

    target = full_disk.path / "review.xlsx"
    assert main(["export", "--xlsx", str(target)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("cenr: error: cannot write the export: [Errno 28] No space left")
    assert sorted(p.name for p in full_disk.path.iterdir()) == [".filler", "out"]

    (full_disk.path / ".filler").unlink()  # room again: the same command works
    assert main(["export", "--xlsx", str(target)]) == 0
    assert target.stat().st_size > 0


def test_a_watched_inbox_on_a_full_disk_loses_nothing(sqlite_service: str, full_disk: Disk,
                                                      tmp_path: Path) -> None:  # fmt: skip
    """On a full disk the watcher still moves each file to done or failed, writes no truncated error
    note, logs where the reasons are, and keeps running."""
    inbox = full_disk.path
    (inbox / "empty.txt").write_bytes(b"")  # fails: its .error.txt cannot be written
    (inbox / "garden.txt").write_text("The community garden board co-leads the study.")
    full_disk.fill()
    argv = ["watch", str(inbox), "--out", str(tmp_path / "out"), "--interval", "0.2",
            "--settle", "0.5"]  # fmt: skip
    watcher = Process(argv, dict(os.environ), tmp_path / "watch.log")
    try:
        finished = wait_until(lambda: (inbox / "failed" / "empty.txt").is_file()
                              and (inbox / "done" / "garden.txt").is_file(), 120)  # fmt: skip
        assert finished, watcher.output()
        assert "No space left on device" in watcher.output()
        assert "has the reasons" in watcher.output()
        assert not (inbox / "failed" / "empty.txt.error.txt").exists(), "no truncated report"
        assert watcher.alive
    finally:
        watcher.stop()
