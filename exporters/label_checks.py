"""Suspect labels (a ``cenr review issues`` run, :class:`schema.views.LabelCheckReport`) in
words and as a workbook.

The workbook's ``Suspect labels`` sheet lists every checked protocol, most suspect first:
its job and ID, the label scored and how it was agreed, each reviewer's level, the
level a model trained without it prefers and the probability it gives the label, the
consensus quality, whether confident learning flags it, and the reason in words.
``Reviewers`` holds each reviewer's estimated quality, ``Notes`` what was not checked.
To settle a suspect label, adjudicate it in the job's Discussion workbook.
"""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook

from exporters.files import write_zip_atomically
from exporters.sheets import StyledCells, fit_to_width, set_widths
from schema.views import CheckedLabel, LabelCheckReport


def _preferred(label: CheckedLabel, codes: list[str]) -> tuple[str, float]:
    best = max(range(len(label.probabilities)), key=label.probabilities.__getitem__)
    return codes[best], label.probabilities[best]


def _quality(row: dict[str, object]) -> str:
    if row.get("quality") is None:
        return f"{row['reviewer']}: {row.get('note') or 'undefined'} (n={row['n']})"
    return (
        f"{row['reviewer']}: quality {row['quality']:.3f}, agreement with the consensus "
        f"{row['agreement']:.3f}, weakest on level {row['worst_level']} (n={row['n']})"
    )


def label_check_lines(report: LabelCheckReport, limit: int = 20) -> list[str]:
    """The run in words: the flagged labels and the most suspect others (at most
    ``limit``), then each reviewer's quality and the notes."""
    flagged = [label for label in report.labels if label.flagged]
    shown = flagged + [label for label in report.labels if not label.flagged]
    lines = [
        f"{len(report.labels)} reviewed protocol(s) of job(s) {', '.join(report.jobs)} checked "
        f"with {report.folds}-fold cross-validation of model {report.model}'s training: "
        f"{len(flagged)} suspect label(s)"
    ]
    for label in shown[:limit]:
        mark = "SUSPECT" if label.flagged else "ok"
        lines.append(
            f"  {mark} {label.protocol_id} (job {label.job_id}, row {label.item_id}): level "
            f"{label.level_code}, suspect score {label.suspect_score:.3f}: {label.reason}"
        )
    if len(shown) > limit:
        lines.append(f"  ... {len(shown) - limit} more (--json or --xlsx for all)")
    lines += [f"  reviewer {_quality(row)}" for row in report.reviewers]
    lines += [f"  note: {note}" for note in report.notes]
    return lines


def write_label_check_workbook(path: Path, report: LabelCheckReport) -> Path:
    """Write the run's workbook to ``path`` (a temporary name, then renamed)."""
    book = Workbook(write_only=True)
    cells = StyledCells()
    sheet = book.create_sheet("Suspect labels")
    reviewers = sorted({name for label in report.labels for name in label.ratings})
    names = ["Job", "Row ID", "Protocol ID", "Title", "Label", "Agreed by",
             *[f"{r}: level" for r in reviewers],
             "Model prefers", "Its probability", "P(label)", "Consensus quality",
             "Suspect score", "Suspect (confident learning)", "Reason"]  # fmt: skip
    set_widths(sheet, [18, 8, 16, 32, 7, 12, *[10] * len(reviewers), 9, 9, 9, 11, 9, 12, 70])
    sheet.freeze_panes = "D2"
    fit_to_width(sheet)
    sheet.row_dimensions[1].height = 30
    sheet.append(cells.header(sheet, names))
    for number, label in enumerate(report.labels, start=2):
        code, probability = _preferred(label, report.codes)
        sheet.row_dimensions[number].height = 42  # three lines: the title, the reason
        sheet.append(
            [
                cells.cell(sheet, label.job_id, "top"),
                cells.cell(sheet, label.item_id, "top"),
                cells.cell(sheet, label.protocol_id, "top"),
                cells.cell(sheet, label.title, "wrap"),
                cells.cell(sheet, label.level_code, "top"),
                cells.cell(sheet, label.basis, "top"),
                *[cells.cell(sheet, label.ratings.get(r), "top") for r in reviewers],
                cells.cell(sheet, code, "top"),
                cells.cell(sheet, round(probability, 4), "fraction"),
                cells.cell(sheet, round(label.self_confidence, 4), "fraction"),
                cells.cell(sheet, round(label.quality, 4), "fraction"),
                cells.cell(sheet, round(label.suspect_score, 4), "fraction"),
                cells.cell(sheet, "yes" if label.flagged else "", "top"),
                cells.cell(sheet, label.reason, "wrap"),
            ]
        )
    people = book.create_sheet("Reviewers")
    set_widths(people, [20, 10, 12, 12, 12, 60])
    columns = ["Reviewer", "Protocols", "Quality", "Agreement with consensus", "Weakest level"]
    people.append(cells.header(people, [*columns, "Note"]))
    for row in report.reviewers:
        people.append(
            [cells.cell(people, row[key]) for key in ("reviewer", "n", "quality", "agreement")]
            + [cells.cell(people, row.get("worst_level")), cells.cell(people, row.get("note"))]
        )
    notes = book.create_sheet("Notes")
    set_widths(notes, [120])
    notes.append(cells.header(notes, [f"Label check {report.run_id} of {report.created_at}"]))
    for line in [
        f"Out-of-sample probabilities: {report.folds}-fold cross-validation, each fold's "
        f"model trained as model {report.model} was, without the protocols it scores.",
        *report.notes,
    ]:
        notes.append([cells.cell(notes, line, "wrap")])
    return write_zip_atomically(path, book.save)
