"""Reviewers' decisions coming back: read a workbook, check it, store its levels.

Stage: after export (reviewers' work coming back). May touch the reviews and
adjudications tables; it reads workbooks through :mod:`exporters` and knows no stage.

Two workbooks come back: the review workbook (one reviewer's levels, stored as
:class:`Review` rows, one per protocol and reviewer) and the Discussion workbook (the
adjudicated level of protocols the reviewers disagreed on, stored as
:class:`Adjudication` rows, one per protocol). The hidden ``_cenr`` sheet names which.
Rows are matched by the hidden row ID (a job item), never by position: reviewers sort
and filter. The workbook must carry this service's format and a job this database knows;
every level is checked against the model's codebook. Importing the same file twice
changes nothing; a job's several workbooks (split by size, or dealt to reviewers) import
in any order, each row stored under its reviewer, the one the workbook was dealt to when
the Reviewer cell is empty. A blind round's workbook (``_cenr`` says ``blind``) stores its
levels marked blind (:attr:`Review.blind`). Every level stored, replaced or removed is also a
:class:`LabelEvent` (:mod:`worker.review.history`), in the same transaction. Messages name
the workbook by its base name only: an uploaded file's server path stays private.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from exporters.review_format import DECISIONS, DISCUSSION_FORMAT, Decisions, ReviewedRow
from exporters.review_format import FORMAT as REVIEW_FORMAT
from exporters.review_format import read_review_workbook as read_decisions
from schema.codebook import Codebook
from schema.errors import CenrError, InputFileError, NotPermitted
from schema.tables import Adjudication, Job, JobItem, ModelVersion, Review
from worker.model_store import codebook_of
from worker.review import history
from worker.store import now


@dataclass(frozen=True)
class Layout:
    """Where a returned workbook keeps its decisions (:mod:`exporters.review_format`), and
    where they are stored."""

    decisions: Decisions
    table: type[Review] | type[Adjudication]
    one_per_person: bool  # reviews: one per (protocol, reviewer); adjudication: per protocol

    @property
    def sheet(self) -> str:
        return self.decisions.sheet

    @property
    def level(self) -> str:
        return self.decisions.level

    @property
    def person(self) -> str:
        return self.decisions.person

    @property
    def columns(self) -> tuple[str, ...]:
        return self.decisions.columns


LAYOUTS = {
    REVIEW_FORMAT: Layout(DECISIONS[REVIEW_FORMAT], Review, True),
    DISCUSSION_FORMAT: Layout(DECISIONS[DISCUSSION_FORMAT], Adjudication, False),
}


@dataclass
class ImportReport:
    """What an import did: rows stored, already stored as they are, refused (and why)."""

    job: str
    file: str
    imported: int = 0
    unchanged: int = 0
    not_reviewed: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    kind: str = "review"  # or "adjudication"

    def to_dict(self) -> dict[str, Any]:
        return {
            "job": self.job, "file": self.file, "kind": self.kind, "imported": self.imported,
            "unchanged": self.unchanged, "not_reviewed": self.not_reviewed,
            "rejected": self.rejected,
        }  # fmt: skip


def read_review_workbook(path: Path) -> tuple[dict[str, str], Layout, list[ReviewedRow]]:
    """The identity (``job``, ``format``, and for one of a job's several workbooks its
    ``part`` and ``reviewer``), the layout and the decision columns of a workbook this
    service exported (a review workbook or a Discussion workbook): the archive checked
    here (a zip bomb or an encrypted part refused before unpacking), then read by
    :func:`exporters.review_format.read_review_workbook`."""
    import zipfile

    from worker.extract.containers import check_zip
    from worker.settings import get_settings

    if zipfile.is_zipfile(path):  # (what is no zip, openpyxl names)
        limit = int(get_settings().max_unzipped_mb * 2**20)
        check_zip(path.name, path, limit).close()
    identity, _, rows = read_decisions(path, tuple(LAYOUTS))
    return identity, LAYOUTS[identity["format"]], rows


def _checked_level(
    row: Any, item: JobItem | None, name: str, codebook: Codebook, person: str, job_id: str
) -> tuple[str, str | None]:
    """A returned row's level code, or why the row cannot be stored."""
    if item is None or item.document_id is None:
        return "", f"row ID {row.item_id!r} is not a protocol of job {job_id}"
    if not name:
        return "", f"no {person.lower()}: fill the {person} column or pass --reviewer NAME"
    try:
        return codebook.levels[codebook.index_of(row.level)].code, None
    except CenrError as exc:
        return "", str(exc)


def import_reviews(
    session: Session,
    path: Path,
    reviewer: str | None = None,
    job_id: str | None = None,
    as_user: bool = False,
    actor: str | None = None,
    channel: str = "cli",
    may_adjudicate: bool = True,
) -> ImportReport:
    """Store the levels of a returned review or Discussion workbook; rows that cannot be
    stored are reported. Levels are checked against the codebook of the job's model.

    Args:
        reviewer: the name for rows whose name column is empty.
        job_id: the job the workbook must belong to (the portal's job page).
        as_user: every decision is ``reviewer``'s, whatever the name column says (a
            signed-in portal user cannot file levels under another name).
        actor: who imports, for the label history (the signed-in user; on the command
            line ``--reviewer`` and the operating-system user); default ``reviewer``.
        channel: ``portal`` or ``cli``, for the label history.
        may_adjudicate: False refuses a Discussion workbook (NotPermitted): adjudicated
            levels are an admin's.
    """
    expected = job_id
    identity, layout, rows = read_review_workbook(path)
    if not may_adjudicate and not layout.one_per_person:
        raise NotPermitted(
            f"{path.name}: a Discussion workbook sets adjudicated levels, which only an "
            "admin may import"
        )
    job_id = identity["job"]
    dealt_to = identity.get("reviewer", "")  # a workbook dealt to one reviewer
    blind = identity.get("blind", "").lower() == "true"  # a blind round's workbook
    if expected is not None and job_id != expected:
        raise InputFileError(
            f"{path.name}: this workbook belongs to job {job_id}, not to job {expected}"
        )
    job = session.get(Job, job_id)
    if job is None:
        raise InputFileError(
            f"{path.name}: exported for job {job_id}, which this database does not have "
            "(another installation, or another CENR_DATABASE_URL?)"
        )
    model = session.get(ModelVersion, job.model_version_id)
    assert model is not None  # a foreign key
    codebook = codebook_of(session, model.id)
    kind = "review" if layout.one_per_person else "adjudication"
    report = ImportReport(job=job_id, file=path.name, kind=kind)
    table = layout.table

    def key(item_id: int, name: str) -> tuple[int, str]:
        return (item_id, name[:200] if layout.one_per_person else "")

    items = {
        item.id: item for item in session.scalars(select(JobItem).where(JobItem.job_id == job_id))
    }
    stored_rows = cast(
        "list[Review | Adjudication]",
        list(session.scalars(select(table).where(table.job_id == job_id))),
    )
    existing = {key(r.job_item_id, r.reviewer): r for r in stored_rows}
    for row in rows:
        if row.level is None or str(row.level).strip() == "":
            report.not_reviewed += 1
            continue
        item = items.get(row.item_id) if isinstance(row.item_id, int) else None
        name = (reviewer or "") if as_user else (row.reviewer or reviewer or dealt_to)
        level, problem = _checked_level(row, item, name, codebook, layout.person, job_id)
        if problem:
            report.rejected.append({"row": row.row, "reason": problem})
            continue
        assert item is not None
        assert item.document_id is not None
        stored = existing.get(key(item.id, name))
        decision = (level, row.rationale, name[:200])
        if (
            stored is not None
            and (stored.level_code, stored.rationale, stored.reviewer) == decision
            and getattr(stored, "blind", blind) == blind
        ):
            report.unchanged += 1
            continue
        before = None if stored is None else stored.level_code
        if stored is None:
            stored = table(job_id=job_id, job_item_id=item.id, document_id=item.document_id)
            session.add(stored)
            existing[key(item.id, name)] = stored
        stored.level_code, stored.rationale, stored.reviewer = decision
        stored.source, stored.imported_at = str(path)[:2000], now()
        if isinstance(stored, Review):
            stored.blind = blind
        action = (history.STORED if before is None else history.CHANGED)[table.__tablename__]
        history.record(session, stored, item, action, before, actor or name, channel,
                       path.name, at=stored.imported_at)  # fmt: skip
        report.imported += 1
    return report
