"""`cenr run` on untrusted input: names that hold terminal escape codes or bidi overrides
are printed harmless, a UTF-8 table with a byte of another encoding is refused naming its
row, and a Windows-1252 table is read right."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import pytest
from openpyxl import load_workbook

from cenr.cli import main
from cenr.report import TerminalFormatter, terminal_safe
from tests.conftest import demo_rows

ESCAPING = "evil\x1b[2J\x1b]0;owned\x07\u202etxt.md"  # clears the screen, retitles, reverses
RAW = ("\x1b", "\x07", "\u202e", "\x9b")


def _table(path: Path, rows: list[dict[str, str]], encoding: str) -> bytes:
    with path.open("w", newline="", encoding=encoding) as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path.read_bytes()


def test_terminal_safe_shows_control_characters_as_escapes() -> None:
    """C0, C1, ESC sequences, bidi overrides and zero-width characters become visible
    escapes; printable text (accents, emoji, spaces) stays as it is."""
    assert terminal_safe("report\x1b[31m.csv") == "report\\x1b[31m.csv"
    assert terminal_safe("a\u202etxt.exe\u200b") == "a\\u202etxt.exe\\u200b"
    assert terminal_safe("\x9b2J\r\n\t") == "\\x9b2J\\r\\n\\t"
    assert terminal_safe("Café — 🎉 naïve") == "Café — 🎉 naïve"
    record = logging.LogRecord("w", logging.INFO, "", 0, "claimed %s", (ESCAPING,), None)
    line = TerminalFormatter("%(message)s").format(record)
    assert not any(c in line for c in RAW)
    assert line == f"claimed {terminal_safe(ESCAPING)}"


def test_cenr_run_prints_untrusted_names_harmless_and_reads_each_encoding(
    sqlite_service: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An inbox with a file named with ESC sequences and a bidi override (empty, so it fails
    and is named in the summary), a UTF-8 CSV with one Windows-1252 byte (refused, naming
    its row) and a Windows-1252 CSV (read right): no raw control character reaches the
    terminal from `cenr run` or `cenr status`, and the names stay recognisable."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / ESCAPING).write_text("")
    rows = demo_rows(4)
    rows[2]["StudyTitle"] = "The partner’s role in “co-design” — café séance"
    mixed = _table(inbox / "mixed.csv", rows, "utf-8")
    mixed = mixed.replace("partner’s".encode(), b"partner\x92s")
    (inbox / "mixed.csv").write_bytes(mixed)
    bad = mixed.index(b"\x92")  # row 4: the third protocol, after fields of several lines
    windows = demo_rows(3, start=4)
    windows[0]["StudyTitle"] = "Naïve residents’ “advisory” board — Año 2"
    _table(inbox / "windows.csv", windows, "cp1252")

    assert main(["run", str(inbox), "--out", str(tmp_path / "out")]) == 1
    run = capsys.readouterr()
    assert main(["status"]) == 0
    status = capsys.readouterr()
    for stream in (run.out, run.err, status.out, status.err):
        assert not any(c in stream for c in RAW), stream
    shown = terminal_safe(ESCAPING)
    assert "\\x1b[2J\\x1b]0;owned\\x07\\u202etxt.md" in shown
    assert f"  {shown}: the file is empty" in run.out
    assert f"  failed: {shown}: the file is empty" in status.out
    line = mixed.count(b"\n", 0, bad) + 1
    assert f"mixed.csv: row 4 (line {line}, byte {bad + 1}): byte 0x92 is not UTF-8" in run.out
    assert "5 protocol(s) from 3 file(s): 3 done, 2 failed" in run.out

    book = load_workbook(tmp_path / "out" / "review.xlsx")
    header = [c.value for c in book["Review"][1]]
    titles = {
        r[header.index("Title")] for r in book["Review"].iter_rows(min_row=2, values_only=True)
    }
    assert "Naïve residents’ “advisory” board — Año 2" in titles
