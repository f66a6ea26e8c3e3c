"""The review workbook's format, in one place: what the writer puts where and the readers
look for.

The format string stays ``cenr-review/1`` (old workbooks still import): what the import
reads of it has not changed, the hidden row ID, ``Reviewer level``, ``Rationale`` and
``Reviewer`` found by their header wherever they stand. The columns' order is the order
of a reviewer's work (:func:`review_columns`): who and what, the model's level, how sure
and whether it needs a second look, the reviewer's three columns; then the evidence; then
the technical columns, grouped and collapsed at the right.

:func:`read_review_workbook` reads the decisions back from a review or a Discussion
workbook. It opens the file with openpyxl and nothing more: a check of the archive (a zip
bomb, an encrypted part) belongs to the caller, before (``worker.review.imports``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from schema.codebook import Codebook
from schema.errors import InputFileError

FORMAT = "cenr-review/1"
DISCUSSION_FORMAT = "cenr-discussion/1"

# sheets
REVIEW_SHEET = "Review"
DISCUSSION_SHEET = "Discussion"
IDENTITY_SHEET = "_cenr"  # hidden: the keys below

# the hidden ``_cenr`` sheet's keys
KEY_FORMAT = "format"
KEY_JOB = "job"
KEY_MODEL = "model"
KEY_EXPORTED_AT = "exported_at"  # ISO 8601, for machines
KEY_PART = "part"
KEY_PARTS = "parts"
KEY_REVIEWER = "reviewer"
KEY_PROTOCOLS = "protocols"
KEY_SHARED = "shared"
KEY_JOB_PROTOCOLS = "job_protocols"
KEY_BLIND = "blind"

# the Review sheet's columns
ROW_ID = "Row ID"  # hidden; a job item's id, read back by the import
PROTOCOL_ID = "Protocol ID"  # a link to the protocol's page in the reviewer's package
TITLE = "Title"
MODEL_LEVEL = "Model level"  # "4 Consult", filled with the level's colour
CONFIDENCE = "Confidence"  # a fraction shown as a percentage, filled by its band
SECOND_LOOK = "Needs a second look"  # the reasons in words; empty when none
REVIEWER_LEVEL = "Reviewer level"  # a drop-down of the codebook's choices
RATIONALE = "Rationale"
REVIEWER = "Reviewer"
EVIDENCE = "Evidence by field"
PASSAGES = "Strongest passages"
STRENGTH = "Heat-map strength"  # strong, moderate, weak, not measured
FAITHFULNESS = "Faithfulness (nats)"
COMPREHENSIVENESS = "Comprehensiveness (nats)"
SUFFICIENCY = "Sufficiency (nats)"
STRONGEST_WORDS = "Strongest words"
PROTOCOL_TEXT = "Protocol text"

# the Discussion sheet's decision columns
ADJUDICATED_LEVEL = "Adjudicated level"
ADJUDICATOR = "Adjudicator"

# the Codebook sheet: the drop-downs' source is its column of choices ("4 Consult")
CODEBOOK_SHEET = "Codebook"
CODEBOOK_COLUMNS = ("Code", "Level", "Definition", "Choice")
CHOICE_COLUMN = "D"


def probability(codebook: Codebook, index: int) -> str:
    """The header of a level's probability: ``Chance of 4 Consult``."""
    return f"Chance of {codebook.choice(index)}"


@dataclass(frozen=True)
class Column:
    name: str
    width: float
    part: str  # "id", "work" (the reviewer's), "evidence" or "technical" (collapsed)


def review_columns(codebook: Codebook, blind: bool = False) -> list[Column]:
    """The Review sheet's columns in order; a blind workbook's leave the model out."""
    start = [Column(ROW_ID, 8, "id"), Column(PROTOCOL_ID, 14, "id"), Column(TITLE, 36, "id")]
    reviewer = [
        Column(REVIEWER_LEVEL, 18, "work"),
        Column(RATIONALE, 36, "work"),
        Column(REVIEWER, 12, "work"),
    ]
    if blind:
        return [*start, *reviewer, Column(PROTOCOL_TEXT, 90, "evidence")]
    return [
        *start,
        Column(MODEL_LEVEL, 18, "work"),
        Column(CONFIDENCE, 11, "work"),
        Column(SECOND_LOOK, 34, "work"),
        *reviewer,
        Column(EVIDENCE, 34, "evidence"),
        Column(PASSAGES, 60, "evidence"),
        Column(STRENGTH, 12, "evidence"),
        *[Column(probability(codebook, i), 11, "technical") for i in range(len(codebook.levels))],
        Column(FAITHFULNESS, 12, "technical"),
        Column(COMPREHENSIVENESS, 12, "technical"),
        Column(SUFFICIENCY, 12, "technical"),
        Column(STRONGEST_WORDS, 30, "technical"),
        Column(PROTOCOL_TEXT, 90, "technical"),
    ]


# -- reading decisions back ------------------------------------------------------------
@dataclass(frozen=True)
class Decisions:
    """Where a returned workbook keeps its decisions."""

    sheet: str
    level: str  # the column of the level
    person: str  # the column of who decided

    @property
    def columns(self) -> tuple[str, ...]:
        return (ROW_ID, self.level, RATIONALE, self.person)


DECISIONS = {
    FORMAT: Decisions(REVIEW_SHEET, REVIEWER_LEVEL, REVIEWER),
    DISCUSSION_FORMAT: Decisions(DISCUSSION_SHEET, ADJUDICATED_LEVEL, ADJUDICATOR),
}


@dataclass(frozen=True)
class ReviewedRow:
    row: int  # as the spreadsheet numbers it
    item_id: object
    level: object
    rationale: str
    reviewer: str


def read_review_workbook(
    path: Path, formats: Sequence[str] = tuple(DECISIONS)
) -> tuple[dict[str, str], Decisions, list[ReviewedRow]]:
    """The identity (``job``, ``format``, and for one of a job's several workbooks its
    ``part`` and ``reviewer``), where the decisions are and the decision columns of a
    workbook this service exported (a review workbook or a Discussion workbook).

    Raises:
        InputFileError: no such file, not a workbook, not one of ours, or one of a format
            not in ``formats``; messages name the file by its base name only.
    """
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError:
        raise InputFileError(f"{path.name}: no such file") from None
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        why = str(exc).replace(str(path), path.name)  # an OSError names the whole path
        raise InputFileError(f"{path.name}: not a readable .xlsx workbook ({why})") from exc
    try:
        if IDENTITY_SHEET not in book.sheetnames:
            raise InputFileError(
                f"{path.name}: not a review workbook exported by cenr (no Review and _cenr "
                "sheets); export one with `cenr export JOB --xlsx FILE`"
            )
        identity = {  # an empty cell (a workbook dealt to nobody) is "", never "None"
            str(key): "" if value is None else str(value)
            for key, value, *_ in book[IDENTITY_SHEET].iter_rows(values_only=True)
            if key is not None
        }
        kind = identity.get(KEY_FORMAT, "")
        decisions = DECISIONS.get(kind) if kind in formats else None
        if decisions is None or not identity.get(KEY_JOB):
            raise InputFileError(
                f"{path.name}: workbook format {identity.get(KEY_FORMAT)!r}, this cenr reads "
                f"{' and '.join(repr(f) for f in formats)}"
            )
        if decisions.sheet not in book.sheetnames:
            raise InputFileError(f"{path.name}: the {decisions.sheet} sheet is missing")
        rows = book[decisions.sheet].iter_rows(values_only=True)
        header = [str(v) if v is not None else "" for v in next(rows, ())]
        missing = [c for c in decisions.columns if c not in header]
        if missing:
            raise InputFileError(
                f"{path.name}: the {decisions.sheet} sheet has no column {', '.join(missing)}"
            )
        at = {name: header.index(name) for name in decisions.columns}
        found = []
        for number, values in enumerate(rows, start=2):
            cells = list(values) + [None] * (len(header) - len(values))
            if all(v is None for v in cells):
                continue
            found.append(
                ReviewedRow(
                    row=number,
                    item_id=cells[at[ROW_ID]],
                    level=cells[at[decisions.level]],
                    rationale=str(cells[at[RATIONALE]] or "").strip(),
                    reviewer=str(cells[at[decisions.person]] or "").strip(),
                )
            )
    finally:
        book.close()
    return identity, decisions, found
