"""The reviewer's side of a review workbook already on disk: which rows hold a level.

An export about to write a review workbook where one already is must not destroy levels a
reviewer filled in and never imported (:func:`worker.export.free_target` compares them
with the stored reviews). This reads just that from the file: its ``_cenr`` identity and,
per row with a Reviewer level, the row ID, the level and the name. It lives beside the
writer, so both the pipeline's export stage and the review package may read it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exporters.workbook import FORMAT

COLUMNS = ("Row ID", "Reviewer level", "Reviewer")


@dataclass(frozen=True)
class FilledLevel:
    row: int  # as the spreadsheet numbers it
    item_id: object  # the hidden Row ID: a job item's id
    level: object  # as the reviewer typed or picked it
    reviewer: str  # the Reviewer cell, else the reviewer the workbook was dealt to


@dataclass(frozen=True)
class FilledWorkbook:
    job: str
    levels: list[FilledLevel]


def filled_levels(path: Path) -> FilledWorkbook | None:
    """The Reviewer levels of the review workbook at ``path``; None when there is no file,
    or it is not a review workbook this service wrote (nothing of a reviewer's to keep)."""
    from openpyxl import load_workbook

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl's notes on parts it drops
            book = load_workbook(path, read_only=True, data_only=True)
    except Exception:  # missing, unreadable or not a workbook: nothing of ours to keep
        return None
    try:
        if "_cenr" not in book.sheetnames or "Review" not in book.sheetnames:
            return None
        identity = {
            str(row[0]): str(row[1])
            for row in book["_cenr"].iter_rows(max_col=2, values_only=True)
            if row and row[0] is not None and len(row) > 1
        }
        if identity.get("format") != FORMAT or not identity.get("job"):
            return None
        return FilledWorkbook(
            identity["job"], list(_levels(book["Review"], identity.get("reviewer", "")))
        )
    finally:
        book.close()


def _levels(sheet: Any, dealt_to: str) -> list[FilledLevel]:
    rows = sheet.iter_rows(values_only=True)
    header = [str(v) if v is not None else "" for v in next(rows, ())]
    if any(name not in header for name in COLUMNS):
        return []
    item, level, name = (header.index(c) for c in COLUMNS)
    found = []
    for number, values in enumerate(rows, start=2):
        cells = list(values) + [None] * (len(header) - len(values))
        if cells[level] is None or str(cells[level]).strip() == "":
            continue
        reviewer = str(cells[name] or "").strip() or dealt_to
        found.append(FilledLevel(number, cells[item], cells[level], reviewer))
    return found
