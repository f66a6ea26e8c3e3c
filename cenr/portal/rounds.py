"""Review rounds dealt from the portal: the coordinator names the reviewers, the share
every one of them reviews and whether the round is blind (``cenr export --reviewers A,B
--overlap S --blind`` from the job page). The round is stored (``review_rounds``, one per
job, replaced when dealt again) and its reviewers assigned; each one's workbook download
is then their part of the round, written per request, and in a blind round it holds the
protocol text alone, nothing the model said (its levels import marked blind)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from cenr.portal.deps import Admin, Checked, Db, VisibleJob
from schema.database import aware
from schema.errors import ConfigError, NotFound
from schema.tables import ReviewRound, User

router = APIRouter()


def current_round(session: Session, job_id: str) -> ReviewRound | None:
    """The job's round dealt from the portal, if any."""
    return session.get(ReviewRound, job_id)


def round_of(session: Session, job_id: str, user: User) -> ReviewRound | None:
    """The round ``user`` takes part in as a reviewer (an admin's downloads stay the whole
    job's: the coordinator sees everything)."""
    found = current_round(session, job_id)
    if found is None or user.role == "admin" or user.username not in found.reviewers:
        return None
    return found


def blind_for(session: Session, job_id: str, user: User) -> bool:
    """Whether what ``user`` downloads or opens of the job must leave out the model: they
    are a reviewer of its blind round."""
    found = round_of(session, job_id, user)
    return bool(found and found.blind)


def round_dict(found: ReviewRound | None) -> dict[str, Any] | None:
    if found is None:
        return None
    return {
        "reviewers": list(found.reviewers), "overlap": found.overlap, "blind": found.blind,
        "dealt_by": found.dealt_by,
        "dealt_at": aware(found.dealt_at).isoformat(timespec="minutes"),
    }  # fmt: skip


def _shares(session: Session, job_id: str, found: ReviewRound, rows: Sequence[Any]) -> list[Any]:
    from exporters.dealing import deal
    from worker.export import per_workbook_of

    return deal(rows, per_workbook_of(session, job_id), found.reviewers, found.overlap)


def _classified(session: Session, job_id: str) -> int:
    from sqlalchemy import func, select

    from schema.states import ItemState
    from schema.tables import JobItem

    query = select(func.count(JobItem.id)).where(
        JobItem.job_id == job_id, JobItem.status == ItemState.DONE
    )
    return int(session.scalar(query) or 0)


def parts_of(session: Session, job_id: str, found: ReviewRound) -> dict[str, int]:
    """How many workbooks each reviewer of the round has (their share split by the
    job's ``--per-workbook``)."""
    shares = _shares(session, job_id, found, range(_classified(session, job_id)))
    parts: dict[str, int] = {}
    for share in shares:
        parts[share.reviewer] = share.parts
    return parts


def deal_round(
    session: Session, job_id: str, names: Sequence[str], overlap: float, blind: bool, by: str
) -> dict[str, Any]:
    """Deal the job's workbooks to ``names`` (portal users, each assigned the job) with
    ``overlap`` (a share, 0 to 1) reviewed by all, blind or not; the round as stored, with
    each reviewer's number of workbooks."""
    from exporters.dealing import check_reviewers, overlap_positions
    from worker.review.assignments import assign

    reviewers = check_reviewers(names)
    if not reviewers:
        raise ConfigError("name at least one reviewer to deal the round to")
    overlap_positions(0, overlap)  # refuses a share outside 0..1 (one reviewer: no effect)
    assign(session, job_id, reviewers, by)  # a name that is no portal user: 400, nothing kept
    found = current_round(session, job_id)
    if found is None:
        found = ReviewRound(job_id=job_id)
        session.add(found)
    found.reviewers, found.overlap, found.blind = reviewers, overlap, blind
    found.dealt_at, found.dealt_by = datetime.now(UTC), by
    session.flush()
    dealt = {"job": job_id, **(round_dict(found) or {})}
    return {**dealt, "workbooks": parts_of(session, job_id, found)}


def round_workbooks(
    session: Session,
    job_id: str,
    user: User,
    found: ReviewRound,
    folder: Path,
    part: int | None = None,
) -> list[Path]:
    """``user``'s workbooks of the round (only ``part``, 1-based, when given), with their
    own levels only and, blind, nothing the model said, written in ``folder``."""
    from worker.export import export_workbooks, review_inputs

    inputs = review_inputs(session, job_id, user.username)
    shares = _shares(session, job_id, found, inputs[0].rows)
    mine = [i for i, share in enumerate(shares) if share.reviewer == user.username]
    if part is not None:
        if not 1 <= part <= len(mine):
            raise NotFound(f"job {job_id} has {len(mine)} review workbook(s) for you: no {part}")
        mine = [mine[part - 1]]
    return export_workbooks(
        session, job_id, folder / f"review-{job_id}.xlsx", reviewers=found.reviewers,
        overlap=found.overlap, inputs=inputs, only=set(mine), blind=found.blind,
    )  # fmt: skip


def round_workbook(
    session: Session, job_id: str, user: User, found: ReviewRound, part: int, folder: Path
) -> Path:
    """``user``'s workbook ``part`` of the round (:func:`round_workbooks`)."""
    return round_workbooks(session, job_id, user, found, folder, part)[0]


def package_options(session: Session, job_id: str, user: User) -> dict[str, Any]:
    """What the reviewer's package (``review-html.zip``) of a round's reviewer holds
    instead of the whole job's: their workbooks of the round, and pages without the
    model when it is blind (the keywords of :func:`cenr.portal.jobs.download`)."""
    found = round_of(session, job_id, user)
    if found is None:
        return {}

    def workbooks(folder: Path) -> list[Path]:
        assert found is not None
        return round_workbooks(session, job_id, user, found, folder)

    return {"workbooks": workbooks, "blind": found.blind}


def names_of(text: str) -> list[str]:
    """A form's names, separated by commas or spaces."""
    return text.replace(",", " ").split()


@router.post("/jobs/{job_id}/rounds", include_in_schema=False, dependencies=[Checked])
def round_page(
    session: Db, user: Admin, job_id: VisibleJob,
    reviewers: Annotated[str, Form(max_length=5000)],
    overlap: Annotated[float, Form(ge=0, le=100)] = 0,
    blind: Annotated[bool, Form()] = False,
) -> Response:  # fmt: skip
    """The job page's "Deal a round" form: the overlap in percent."""
    deal_round(session, job_id, names_of(reviewers), overlap / 100, blind, user.username)
    return RedirectResponse(f"/jobs/{job_id}#round", status_code=303)
