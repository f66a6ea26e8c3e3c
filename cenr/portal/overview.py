"""What the job page says of each protocol and of the round, in a reviewer's words: the
model's level as ``4 Consult`` in its colour, its confidence as a percentage in its band,
the heat-map's strength (strong, moderate, weak) and whether the protocol needs a second
look (:mod:`schema.second_look`); for the coordinator, how far the round has come."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from schema.codebook import Codebook
from schema.second_look import band, percent, second_look, strength
from schema.tables import Review
from schema.views import ReviewRow


def model_view(codebook: Codebook, row: ReviewRow) -> dict[str, Any]:
    """One classified protocol as the job page shows it (the numbers the API keeps too)."""
    shares = row.evidence.fields if row.evidence is not None else []
    look = second_look(codebook, row.level_index, row.confidence, row.faithfulness_detail, shares)
    return {
        "level_index": row.level_index,
        "level_choice": codebook.choice(row.level_index),
        "percent": percent(row.confidence),
        "band": band(row.confidence),
        "strength": strength(row.faithfulness_detail),
        "second_look": look.reasons,
    }


def model_views(session: Session, job_id: str, reviewer: str | None) -> dict[str, Any]:
    """The job's classified protocols by job item (:func:`model_view`), the codebook's
    number of levels (their colours' scale), and the round's progress from the reviews
    (with ``reviewer``, only theirs)."""
    from worker.model_store import codebook_of
    from worker.results import review_data

    data = review_data(session, job_id, reviewer=reviewer)
    codebook = codebook_of(session, data.model_version_id)
    views = {row.item_id: model_view(codebook, row) for row in data.rows}
    model_level = {row.item_id: row.level_code for row in data.rows}
    reviews = session.execute(
        select(Review.job_item_id, Review.level_code)
        .where(Review.job_id == job_id)
        .where(Review.reviewer == reviewer if reviewer is not None else Review.job_id == job_id)
    ).all()
    reviewed = {item for item, _ in reviews if item in model_level}
    progress = {
        "protocols": len(data.rows),
        "reviewed": len(reviewed),
        "left": len(data.rows) - len(reviewed),
        "second_look": sum(1 for view in views.values() if view["second_look"]),
        "reviews": len(reviews),
        "disagreements": sum(
            1 for item, code in reviews if item in model_level and code != model_level[item]
        ),
    }
    return {"views": views, "levels": len(codebook.levels), "progress": progress}
