"""Reading labelled tables: CSV, XLSX and JSONL, with errors that name file and row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openpyxl import Workbook

from schema.errors import ColumnError, InputFileError
from worker.extract.tables import read_protocols

ROWS = [
    {"Protocol ID": "HM1", "StudyTitle": "Café study", "Partners": "CBPR", "Level": 5},
    {"Protocol ID": "HM2", "StudyTitle": "Lab study", "Partners": "", "Level": 0},
]


def _write(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"data.{kind}"
    columns = list(ROWS[0])
    if kind == "csv":
        lines = [",".join(columns)] + [",".join(str(r[c]) for c in columns) for r in ROWS]
        path.write_text("\n".join(lines) + "\n,,,\n", encoding="utf-8")
    elif kind == "xlsx":
        book = Workbook()
        sheet = book.active
        sheet.append(columns)
        for row in ROWS:
            sheet.append([row[c] for c in columns])
        book.save(path)
    else:
        path.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("kind", ["csv", "xlsx", "jsonl"])
def test_each_format_gives_the_same_protocols(tmp_path: Path, kind: str) -> None:
    """Rows become protocols with named fields in column order; blank rows are ignored."""
    protocols = read_protocols(
        _write(tmp_path, kind), ["StudyTitle", "Partners"], "Level", "Protocol ID"
    )
    assert [p.protocol_id for p in protocols] == ["HM1", "HM2"]
    assert list(protocols[0].fields) == ["StudyTitle", "Partners"]
    assert protocols[0].fields["StudyTitle"] == "Café study"
    assert [p.label for p in protocols] == ["5", "0"]


def test_unknown_column_lists_the_columns_the_file_has(tmp_path: Path) -> None:
    """A misspelt column names the file, the column and what exists."""
    with pytest.raises(
        ColumnError, match=r"data.csv: no column 'Aims'; the file has: 'Protocol ID'"
    ):
        read_protocols(_write(tmp_path, "csv"), ["Aims"], "Level")


def test_windows_1252_csv_is_not_mangled(tmp_path: Path) -> None:
    """A CSV saved by Excel in cp1252 keeps its accented letters."""
    path = tmp_path / "win.csv"
    path.write_bytes("StudyTitle,Level\nCafé – naïve,1\n".encode("cp1252"))
    assert read_protocols(path, ["StudyTitle"], "Level")[0].fields["StudyTitle"] == "Café – naïve"


def test_rows_without_a_label_are_reported_by_row(tmp_path: Path) -> None:
    """Empty label cells are an error naming their rows, never silently dropped."""
    path = tmp_path / "holes.csv"
    path.write_text("StudyTitle,Level\na,1\nb,\nc,2\n", encoding="utf-8")
    with pytest.raises(
        InputFileError, match=r"holes.csv: 1 row\(s\) have an empty 'Level': rows 3"
    ):
        read_protocols(path, ["StudyTitle"], "Level")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("x.pdf", b"%PDF", "unsupported table type .pdf"),
        ("x.xlsx", b"not a zip", "damaged or not an Office file"),
        ("x.csv", b"", "the file is empty"),
        ("x.csv", b"a,b\x00c\n", "looks like a binary file"),
        ("x.jsonl", b"{broken\n", "line 1 is not JSON"),
        ("x.jsonl", b"[1, 2]\n", "line 1 is not a JSON object"),
    ],
)
def test_unreadable_files_name_the_file_and_problem(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    """Malformed or unsupported files raise InputFileError with the reason."""
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputFileError, match=f"{name}: .*{message}"):
        read_protocols(path, ["a"], None)


def test_missing_file_is_named(tmp_path: Path) -> None:
    """A path that does not exist says so."""
    with pytest.raises(InputFileError, match="no such file"):
        read_protocols(tmp_path / "gone.csv", ["a"], None)


# Reads one table in a fresh interpreter with the default limits; prints the rows read,
# the protocols and the process's peak resident memory in MiB.
# VmHWM, not ru_maxrss: the latter keeps the forking parent's size (pytest's) across exec.
_READ_WITH_DEFAULTS = """
import re, sys
from pathlib import Path
from worker.extract.step import limits
from worker.extract.source import extract_source
from worker.settings import Settings
path = sys.argv[1]
found = extract_source(path, open(path, "rb").read(), limits(Settings()))
peak = int(re.search(r"VmHWM:\\s+(\\d+)", Path("/proc/self/status").read_text()).group(1))
print(len(found), sum(e.protocol is not None for e in found), peak // 1024)
"""


def test_a_years_export_goes_through_with_the_defaults_within_a_memory_bound(
    tmp_path: Path,
) -> None:
    """A 150 MB CSV of 6,000 long protocols and an XLSX of 3,000 (49 MB unpacked) pass the
    default limits and are read, every row a protocol, in under 1 GB of memory."""
    import csv
    import random
    import subprocess
    import sys

    from tests.conftest import ROOT
    from worker.settings import Settings

    rng = random.Random(0)
    words = [
        "community",
        "partners",
        "advisory",
        "board",
        "recruit",
        "participants",
        "study",
        "design",
    ]
    header = ["Protocol ID", "StudyTitle", "AimsGoals", "Background", "StudyDesign", "Partners"]
    year = tmp_path / "year.csv"
    paragraph = " ".join(rng.choices(words, k=800))
    with year.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for i in range(6000):
            writer.writerow([f"IRB-{i:05d}", f"Study {i}", paragraph, paragraph,
                             f"{paragraph} {i}", paragraph])  # fmt: skip
    assert year.stat().st_size > 150 * 2**20
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(header)
    for i in range(3000):
        sheet.append([f"IRB-{i:05d}", f"Study {i}"] + [" ".join(rng.choices(words, k=500))
                                                       for _ in range(4)])  # fmt: skip
    book.save(tmp_path / "year.xlsx")
    limits = Settings().size_limits
    for path, rows in ((year, 6000), (tmp_path / "year.xlsx", 3000)):
        assert path.stat().st_size < limits.of(path.name)[0], "under the default table limit"
        result = subprocess.run(
            [sys.executable, "-c", _READ_WITH_DEFAULTS, str(path)],
            cwd=ROOT, capture_output=True, text=True, check=True, timeout=300,
        )  # fmt: skip
        found, protocols, peak_mib = map(int, result.stdout.split())
        assert (found, protocols) == (rows, rows), path.name
        assert peak_mib < 1024, f"{path.name}: {peak_mib} MiB"
