"""The Discussion workbook: the protocols reviewers disagree on, for adjudication.

Sheets: ``Discussion`` (one row per disputed protocol: the model's level, each
reviewer's level and rationale side by side, the protocol text, then the adjudicator's
columns ``Adjudicated level`` - a drop-down of the codebook - ``Rationale`` and
``Adjudicator``), ``Agreement`` (the figures, nominal and ordinal, a line each),
``Codebook`` and the hidden ``_cenr`` identity, so that
``cenr review import`` reads the adjudicated levels back the way it reads a review
workbook. Levels already adjudicated are filled in, so a workbook exported again keeps
the decisions made so far.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from exporters.files import write_zip_atomically
from exporters.review_format import (
    ADJUDICATED_LEVEL,
    ADJUDICATOR,
    DISCUSSION_SHEET,
    KEY_EXPORTED_AT,
    KEY_FORMAT,
    KEY_JOB,
    KEY_MODEL,
    PROTOCOL_ID,
    PROTOCOL_TEXT,
    RATIONALE,
    ROW_ID,
    TITLE,
)
from exporters.review_format import DISCUSSION_FORMAT as FORMAT
from exporters.sheets import (
    StyledCells,
    fit_to_width,
    level_choice,
    lock_all_but_editable,
    set_widths,
    write_codebook_sheet,
    write_identity_sheet,
)
from schema.codebook import Codebook
from schema.views import DiscussionData

__all__ = ["FORMAT", "write_discussion_workbook"]


def _plain_text(fields: dict[str, str]) -> str:
    return "\n\n".join(f"{name}: {value}" for name, value in fields.items() if value)


def write_discussion_workbook(path: Path, data: DiscussionData, codebook: Codebook) -> Path:
    """Write the job's Discussion workbook to ``path`` (a temporary name, then renamed)."""
    book = Workbook(write_only=True)
    cells = StyledCells()
    sheet = book.create_sheet(DISCUSSION_SHEET)
    names = [ROW_ID, PROTOCOL_ID, TITLE, "Model level"]
    widths: list[float] = [8, 16, 32, 9]
    for reviewer in data.reviewers:
        names += [f"{reviewer}: level", f"{reviewer}: rationale"]
        widths += [10, 36]
    names += [PROTOCOL_TEXT, ADJUDICATED_LEVEL, RATIONALE, ADJUDICATOR]
    widths += [80, 14, 40, 14]
    set_widths(sheet, widths)
    sheet.column_dimensions["A"].hidden = True
    sheet.freeze_panes = "C2"
    n = len(data.rows)
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(names))}{n + 1}"
    level_column = get_column_letter(len(names) - 2)
    column = f"{level_column}2:{level_column}{max(n + 1, 2)}"
    sheet.data_validations.append(level_choice(codebook, column, ADJUDICATED_LEVEL))
    lock_all_but_editable(sheet)
    fit_to_width(sheet)
    sheet.row_dimensions[1].height = 30
    sheet.append(cells.header(sheet, names))
    for number, row in enumerate(data.rows, start=2):
        sheet.row_dimensions[number].height = 90
        said = []
        for reviewer in data.reviewers:
            level, rationale = row.decisions.get(reviewer, (None, ""))
            said += [cells.cell(sheet, level, "top"), cells.cell(sheet, rationale, "wrap")]
        settled = row.adjudication or (None, None, None)
        sheet.append(
            [
                cells.cell(sheet, row.item_id),
                cells.cell(sheet, row.protocol_id, "top"),
                cells.cell(sheet, row.title, "wrap"),
                cells.cell(sheet, row.model_level, "top"),
                *said,
                cells.cell(sheet, _plain_text(row.fields), "wrap"),
                *[cells.cell(sheet, value, "editable") for value in settled],
            ]
        )
    if data.agreement:
        figures = book.create_sheet("Agreement")
        set_widths(figures, (120,))
        figures.append(cells.header(figures, [f"How far the reviewers of job {data.job_id} agree"]))
        for line in data.agreement:
            figures.append([cells.cell(figures, line)])
    write_codebook_sheet(book, cells, codebook)
    write_identity_sheet(
        book,
        [
            (KEY_FORMAT, FORMAT),
            (KEY_JOB, data.job_id),
            (KEY_MODEL, data.model),
            (KEY_EXPORTED_AT, datetime.now(UTC).isoformat()),
        ],
    )
    return write_zip_atomically(path, book.save)
