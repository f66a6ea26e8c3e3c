"""What the job page says of each protocol and of the round, in a reviewer's words: the
model's level as ``4 Consult`` in its colour, its confidence as a percentage in its band,
the heat-map's strength (strong, moderate, weak) and whether the protocol needs a second
look (:mod:`schema.second_look`); for the coordinator, how far the round has come."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, select, true
from sqlalchemy.orm import Session

from schema.codebook import Codebook
from schema.errors import NotFound
from schema.second_look import band, percent, second_look, strength
from schema.states import ItemState
from schema.tables import EvidenceField, Job, JobItem, Prediction, Review
from worker.store import chunks


def model_view(
    codebook: Codebook,
    level_index: int,
    confidence: float,
    detail: dict[str, Any] | None,
    shares: Sequence[tuple[str, float]],
) -> dict[str, Any]:
    """One classified protocol as the job page shows it (the numbers the API keeps too)."""
    look = second_look(codebook, level_index, confidence, detail, shares)
    return {
        "level_index": level_index,
        "level_choice": codebook.choice(level_index),
        "percent": percent(confidence),
        "band": band(confidence),
        "strength": strength(detail),
        "second_look": look.reasons,
        "reviews": [],  # each reviewer's level (model_views fills it)
    }


def model_views(session: Session, job_id: str, reviewer: str | None) -> dict[str, Any]:
    """The job's classified protocols by job item (:func:`model_view`), the codebook's
    number of levels (their colours' scale), and the round's progress from the reviews
    (with ``reviewer``, only theirs). Reads the predictions and their evidence by field,
    not the protocols' text: the page of a job of thousands stays quick."""
    from worker.model_store import codebook_of

    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job {job_id!r}")
    codebook = codebook_of(session, job.model_version_id)
    predicted = session.execute(
        select(JobItem.id, Prediction.id, Prediction.level_index, Prediction.level_code,
               Prediction.confidence, Prediction.faithfulness_detail)
        .join(Prediction, and_(Prediction.document_id == JobItem.document_id,
                               Prediction.model_version_id == job.model_version_id))
        .where(JobItem.job_id == job_id, JobItem.status == ItemState.DONE)
    ).all()  # fmt: skip
    shares: dict[int, list[tuple[str, float]]] = {}
    for part in chunks([row[1] for row in predicted]):
        for pid, name, share in session.execute(
            select(EvidenceField.prediction_id, EvidenceField.field, EvidenceField.share).where(
                EvidenceField.prediction_id.in_(part)
            )
        ):
            shares.setdefault(pid, []).append((name, share))
    views = {
        item: model_view(codebook, index, confidence, detail, shares.get(pid, []))
        for item, pid, index, _, confidence, detail in predicted
    }
    model_level = {row[0]: row[3] for row in predicted}
    found = session.execute(
        select(Review.job_item_id, Review.level_code, Review.reviewer)
        .where(Review.job_id == job_id)
        .where(Review.reviewer == reviewer if reviewer is not None else true())
        .order_by(Review.reviewer)
    ).all()
    codes = codebook.codes
    for item, code, name in found:  # each reviewer's level beside the model's
        if item in views and code in codes:
            views[item]["reviews"].append(
                {"reviewer": name, "level_index": codes.index(code),
                 "level_choice": codebook.choice(codes.index(code)),
                 "differs": code != model_level[item]}
            )  # fmt: skip
    reviews = [(item, code) for item, code, _ in found]
    reviewed = {item for item, _ in reviews if item in model_level}
    progress = {
        "protocols": len(predicted),
        "reviewed": len(reviewed),
        "left": len(predicted) - len(reviewed),
        "second_look": sum(1 for view in views.values() if view["second_look"]),
        "reviews": len(reviews),
        "disagreements": sum(
            1 for item, code in reviews if item in model_level and code != model_level[item]
        ),
    }
    return {"views": views, "levels": len(codebook.levels), "progress": progress}
