"""Seconds to read the Reviewer levels of a review workbook already at an export's path
(what every export does before it writes over one), streamed and with openpyxl.

    .venv/bin/python bench/filled_workbook.py [--protocols 100] [--tokens 2600]

Writes a real review workbook of synthetic classified protocols (as
``bench/workbook_export.py`` builds them), then reads it back with
:func:`exporters.returned.filled_levels` (the sheet's XML streamed) and with openpyxl's
read-only mode (the fallback), and once more after a spreadsheet program's save (openpyxl
keeps every text as a shared string, as Excel does).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.workbook_export import build_job  # noqa: E402
from exporters.returned import _with_openpyxl, filled_levels  # noqa: E402
from exporters.workbook import write_review_workbook  # noqa: E402
from schema.codebook import default_codebook  # noqa: E402
from schema.database import open_database, session_scope  # noqa: E402
from worker.results import review_data, token_spans  # noqa: E402


def _timed(read: object, path: Path) -> tuple[float, int]:
    start = time.perf_counter()
    found = read(path)  # type: ignore[operator]
    return time.perf_counter() - start, len(found.levels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--protocols", type=int, default=100)
    parser.add_argument("--tokens", type=int, default=2600)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    url = f"sqlite:///{folder / 'bench.sqlite3'}"
    job_id = build_job(url, args.protocols, args.tokens)
    engine = open_database(url)
    target = folder / "review.xlsx"
    with session_scope(engine) as session:
        data = review_data(session, job_id)
        write_review_workbook(target, data, default_codebook(), lambda p: token_spans(session, p))
    engine.dispose()
    from openpyxl import load_workbook

    saved = folder / "saved.xlsx"
    book = load_workbook(target, rich_text=True)
    sheet = book["Review"]
    level = [c.value for c in sheet[1]].index("Reviewer level") + 1
    for row in range(2, sheet.max_row + 1, 10):
        sheet.cell(row, level).value = "3"
    book.save(saved)
    size = target.stat().st_size / 2**20
    print(f"{args.protocols} protocols of {args.tokens} tokens ({size:.1f} MB)")
    for name, path in (("as exported", target), ("saved by a spreadsheet", saved)):
        for how, read in (("streamed", filled_levels), ("openpyxl", _with_openpyxl)):
            seconds, levels = _timed(read, path)
            print(f"{name:>24} {how:>9}: {seconds:6.2f} s, {levels} level(s)")


if __name__ == "__main__":
    main()
