"""Reviewers' decisions coming back: read a review workbook, check it, store its levels.

Rows are matched by the hidden row ID (a job item), never by position: reviewers sort
and filter. The workbook must carry this service's format and a job this database knows;
every reviewer level is checked against the model's codebook. Importing the same file
twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from exporters.workbook import FORMAT
from schema.codebook import model_codebook
from schema.errors import CenrError, InputFileError
from schema.tables import Job, JobItem, ModelVersion, Review
from worker.store import now

REVIEW_COLUMNS = ("Row ID", "Reviewer level", "Rationale", "Reviewer")


@dataclass
class ImportReport:
    """What an import did: rows stored, already stored as they are, refused (and why)."""

    job: str
    file: str
    imported: int = 0
    unchanged: int = 0
    not_reviewed: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "job": self.job, "file": self.file, "imported": self.imported,
            "unchanged": self.unchanged, "not_reviewed": self.not_reviewed,
            "rejected": self.rejected,
        }  # fmt: skip


@dataclass(frozen=True)
class ReviewedRow:
    row: int  # as the spreadsheet numbers it
    item_id: object
    level: object
    rationale: str
    reviewer: str


def read_review_workbook(path: Path) -> tuple[str, list[ReviewedRow]]:
    """The job ID and the reviewer columns of a workbook this service exported."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file") from None
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise InputFileError(f"{path}: not a readable .xlsx workbook ({exc})") from exc
    try:
        if "_cenr" not in book.sheetnames or "Review" not in book.sheetnames:
            raise InputFileError(
                f"{path}: not a review workbook exported by cenr (no Review and _cenr sheets); "
                "export one with `cenr export JOB --xlsx FILE`"
            )
        identity = {
            str(key): str(value)
            for key, value, *_ in book["_cenr"].iter_rows(values_only=True)
            if key is not None
        }
        if identity.get("format") != FORMAT or not identity.get("job"):
            raise InputFileError(
                f"{path}: review workbook format {identity.get('format')!r}, this cenr reads "
                f"{FORMAT!r}"
            )
        rows = book["Review"].iter_rows(values_only=True)
        header = [str(v) if v is not None else "" for v in next(rows, ())]
        missing = [c for c in REVIEW_COLUMNS if c not in header]
        if missing:
            raise InputFileError(f"{path}: the Review sheet has no column {', '.join(missing)}")
        at = {name: header.index(name) for name in REVIEW_COLUMNS}
        found = []
        for number, values in enumerate(rows, start=2):
            cells = list(values) + [None] * (len(header) - len(values))
            if all(v is None for v in cells):
                continue
            found.append(
                ReviewedRow(
                    row=number,
                    item_id=cells[at["Row ID"]],
                    level=cells[at["Reviewer level"]],
                    rationale=str(cells[at["Rationale"]] or "").strip(),
                    reviewer=str(cells[at["Reviewer"]] or "").strip(),
                )
            )
    finally:
        book.close()
    return identity["job"], found


def import_reviews(session: Session, path: Path, reviewer: str | None = None) -> ImportReport:
    """Store the reviewer levels of ``path``; rows that cannot be stored are reported.

    Levels are checked against the codebook of the job's model.
    """
    job_id, rows = read_review_workbook(path)
    job = session.get(Job, job_id)
    if job is None:
        raise InputFileError(
            f"{path}: exported for job {job_id}, which this database does not have "
            "(another installation, or another CENR_DATABASE_URL?)"
        )
    model = session.get(ModelVersion, job.model_version_id)
    assert model is not None  # a foreign key
    codebook = model_codebook(Path(model.path))
    report = ImportReport(job=job_id, file=str(path))
    items = {
        item.id: item for item in session.scalars(select(JobItem).where(JobItem.job_id == job_id))
    }
    existing = {
        (r.job_item_id, r.reviewer): r
        for r in session.scalars(select(Review).where(Review.job_id == job_id))
    }
    for row in rows:
        if row.level is None or str(row.level).strip() == "":
            report.not_reviewed += 1
            continue
        item = items.get(row.item_id) if isinstance(row.item_id, int) else None
        name = row.reviewer or (reviewer or "")
        problem = None
        if item is None or item.document_id is None:
            problem = f"row ID {row.item_id!r} is not a protocol of job {job_id}"
        elif not name:
            problem = "no reviewer: fill the Reviewer column or pass --reviewer NAME"
        else:
            try:
                level = codebook.levels[codebook.index_of(row.level)].code
            except CenrError as exc:
                problem = str(exc)
        if problem:
            report.rejected.append({"row": row.row, "reason": problem})
            continue
        assert item is not None
        assert item.document_id is not None
        stored = existing.get((item.id, name[:200]))
        if stored is not None and (stored.level_code, stored.rationale) == (level, row.rationale):
            report.unchanged += 1
            continue
        if stored is None:
            stored = Review(
                job_id=job_id, job_item_id=item.id, document_id=item.document_id,
                reviewer=name[:200],
            )  # fmt: skip
            session.add(stored)
            existing[(item.id, name[:200])] = stored
        stored.level_code, stored.rationale = level, row.rationale
        stored.source, stored.imported_at = str(path)[:2000], now()
        report.imported += 1
    return report


def fleiss_kappa(ratings: list[list[str]]) -> float | None:
    """Fleiss' kappa for items each rated by the same number (>= 2) of raters."""
    if not ratings or len(ratings[0]) < 2:
        return None
    n = len(ratings[0])
    categories = sorted({r for item in ratings for r in item})
    counts = [[item.count(c) for c in categories] for item in ratings]
    p_item = [(sum(x * x for x in row) - n) / (n * (n - 1)) for row in counts]
    p_bar = sum(p_item) / len(ratings)
    shares = [sum(row[j] for row in counts) / (len(ratings) * n) for j in range(len(categories))]
    p_e = sum(p * p for p in shares)
    return None if p_e == 1 else (p_bar - p_e) / (1 - p_e)


def cohen_kappa(a: list[str], b: list[str]) -> float | None:
    """Cohen's kappa of two raters over the same items (None when chance agreement is 1)."""
    if not a:
        return None
    categories = set(a) | set(b)
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / len(a)
    expected = sum((a.count(c) / len(a)) * (b.count(c) / len(b)) for c in categories)
    return None if expected == 1 else (observed - expected) / (1 - expected)


def agreement(session: Session, job_id: str) -> dict[str, Any]:
    """Agreement between the job's reviewers, and between the model and each reviewer."""
    from schema.tables import Prediction

    job = session.get(Job, job_id)
    if job is None:
        raise InputFileError(f"no job {job_id!r}")
    by_item: dict[int, dict[str, str]] = {}
    for item_id, reviewer, level in session.execute(
        select(Review.job_item_id, Review.reviewer, Review.level_code).where(
            Review.job_id == job_id
        )
    ):
        by_item.setdefault(item_id, {})[reviewer] = level
    model = dict(
        session.execute(
            select(JobItem.id, Prediction.level_code)
            .join(Prediction, Prediction.document_id == JobItem.document_id)
            .where(JobItem.job_id == job_id, Prediction.model_version_id == job.model_version_id)
        ).all()
    )
    reviewers = sorted({r for levels in by_item.values() for r in levels})
    pairs = []
    for i, a in enumerate(reviewers):
        for b in reviewers[i + 1 :]:
            both = [levels for levels in by_item.values() if a in levels and b in levels]
            pairs.append(
                {
                    "reviewers": [a, b],
                    "n": len(both),
                    "cohen_kappa": cohen_kappa([x[a] for x in both], [x[b] for x in both]),
                }
            )
    complete = [levels for levels in by_item.values() if len(levels) == len(reviewers)]
    versus_model = []
    for reviewer in reviewers:
        items = [i for i, levels in by_item.items() if reviewer in levels and i in model]
        theirs = [by_item[i][reviewer] for i in items]
        ours = [model[i] for i in items]
        versus_model.append(
            {
                "reviewer": reviewer,
                "n": len(items),
                "accuracy": (sum(x == y for x, y in zip(theirs, ours, strict=True)) / len(items))
                if items
                else None,
                "cohen_kappa": cohen_kappa(theirs, ours),
            }
        )
    disagreements = sorted(i for i, levels in by_item.items() if len(set(levels.values())) > 1)
    return {
        "job": job_id,
        "reviewers": reviewers,
        "items_reviewed": len(by_item),
        "pairs": pairs,
        "fleiss_kappa": fleiss_kappa([[x[r] for r in reviewers] for x in complete])
        if len(reviewers) >= 2
        else None,
        "fleiss_n": len(complete),
        "model_vs_reviewer": versus_model,
        "disagreements": disagreements,
    }
