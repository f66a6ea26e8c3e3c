"""How far reviewers agree, what they disagree on, and which labels are settled.

Stage: none (the read side of reviews). Reads the reviews and adjudications and fills
:mod:`schema.views`; writes nothing.

Downstream of :mod:`worker.reviews` (which stores the decisions): Cohen's kappa per pair
of reviewers, Fleiss' kappa overall, the model against each reviewer; the protocols they
disagree on, for the Discussion workbook; and the agreed label of each protocol - its
adjudicated level if it has one, else the level all its reviewers gave - which is what
``cenr train --from-reviews`` learns from.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from schema.errors import NotFound
from schema.protocol import Protocol
from schema.tables import Adjudication, Document, Job, JobItem, ModelVersion, Prediction, Review
from schema.views import (
    AgreedLabel,
    AgreedLabels,
    DiscussionData,
    DiscussionRow,
    ReviewedProtocol,
    title_of,
)


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


def _reviews_by_item(session: Session, job_id: str) -> dict[int, dict[str, tuple[str, str]]]:
    """job item -> reviewer -> (level code, rationale)."""
    by_item: dict[int, dict[str, tuple[str, str]]] = {}
    for item_id, reviewer, level, rationale in session.execute(
        select(Review.job_item_id, Review.reviewer, Review.level_code, Review.rationale).where(
            Review.job_id == job_id
        )
    ):
        by_item.setdefault(item_id, {})[reviewer] = (level, rationale)
    return by_item


def _adjudications(session: Session, job_id: str) -> dict[int, tuple[str, str, str]]:
    """job item -> (level code, rationale, adjudicator)."""
    return {
        item_id: (level, rationale, adjudicator)
        for item_id, level, rationale, adjudicator in session.execute(
            select(
                Adjudication.job_item_id, Adjudication.level_code, Adjudication.rationale,
                Adjudication.reviewer,
            ).where(Adjudication.job_id == job_id)
        )
    }  # fmt: skip


def _job(session: Session, job_id: str) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job {job_id!r}; `cenr status` shows the newest")
    return job


def _model_levels(session: Session, job: Job) -> dict[int, str]:
    """job item -> the level the job's model predicted."""
    return dict(
        session.execute(
            select(JobItem.id, Prediction.level_code)
            .join(Prediction, Prediction.document_id == JobItem.document_id)
            .where(JobItem.job_id == job.id, Prediction.model_version_id == job.model_version_id)
        ).all()
    )


def agreement(session: Session, job_id: str) -> dict[str, Any]:
    """Agreement between the job's reviewers, and between the model and each reviewer.

    Adjudications are not ratings: they settle disagreements and are counted apart.
    """
    job = _job(session, job_id)
    by_item = {
        item: {name: level for name, (level, _) in decisions.items()}
        for item, decisions in _reviews_by_item(session, job_id).items()
    }
    model = _model_levels(session, job)
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
        agreed = sum(x == y for x, y in zip(theirs, ours, strict=True))
        versus_model.append(
            {
                "reviewer": reviewer,
                "n": len(items),
                "accuracy": agreed / len(items) if items else None,
                "cohen_kappa": cohen_kappa(theirs, ours),
            }
        )
    disagreements = sorted(i for i, levels in by_item.items() if len(set(levels.values())) > 1)
    adjudicated = _adjudications(session, job_id)
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
        "adjudicated": sorted(i for i in disagreements if i in adjudicated),
    }


def discussion_data(session: Session, job_id: str) -> DiscussionData:
    """The protocols whose reviewers disagree, in submission order, for adjudication."""
    job = _job(session, job_id)
    model = session.get(ModelVersion, job.model_version_id)
    assert model is not None  # a foreign key
    by_item = _reviews_by_item(session, job_id)
    disputed = {
        item for item, decisions in by_item.items()
        if len({level for level, _ in decisions.values()}) > 1
    }  # fmt: skip
    adjudicated = _adjudications(session, job_id)
    predicted = _model_levels(session, job)
    rows = [
        DiscussionRow(
            item_id=item_id,
            protocol_id=external_id,
            title=title_of(fields),
            fields=dict(fields),
            model_level=predicted.get(item_id),
            decisions=by_item[item_id],
            adjudication=adjudicated.get(item_id),
        )
        for item_id, external_id, fields in session.execute(
            select(JobItem.id, JobItem.external_id, Document.fields)
            .join(Document, Document.id == JobItem.document_id)
            .where(JobItem.id.in_(disputed))
            .order_by(JobItem.source_file_id, JobItem.position)
        )
    ]
    reviewers = sorted({name for row in rows for name in row.decisions})
    return DiscussionData(job_id, model.name, model.id, reviewers, rows)


def agreed_labels(session: Session, job_ids: list[str]) -> AgreedLabels:
    """Each reviewed protocol's settled level: adjudicated, else unanimous; protocols the
    reviewers disagree on without an adjudication are left out (and counted)."""
    labels, unresolved = [], 0
    for job_id in job_ids:
        _job(session, job_id)
        by_item = _reviews_by_item(session, job_id)
        adjudicated = _adjudications(session, job_id)
        documents = dict(
            session.execute(
                select(JobItem.id, JobItem.document_id).where(JobItem.id.in_(set(by_item)))
            ).all()
        )
        for item_id in sorted(set(by_item) | set(adjudicated)):
            levels = {level for level, _ in by_item.get(item_id, {}).values()}
            if item_id in adjudicated:
                level, basis = adjudicated[item_id][0], "adjudicated"
            elif len(levels) == 1:
                level, basis = levels.pop(), "unanimous"
            else:
                unresolved += 1
                continue
            document = documents.get(item_id) or session.scalar(
                select(JobItem.document_id).where(JobItem.id == item_id)
            )
            assert document is not None  # reviews are only stored for classified items
            labels.append(AgreedLabel(job_id, item_id, document, level, basis))
    return AgreedLabels(labels, unresolved)


def reviewed_protocols(session: Session, job_ids: list[str]) -> tuple[list[ReviewedProtocol], int]:
    """The jobs' protocols with an agreed level (one per document: a later job's label
    wins), and how many reviewed protocols are still unresolved."""
    agreed = agreed_labels(session, job_ids)
    if not agreed.labels:
        return [], agreed.unresolved
    documents = dict(
        session.execute(
            select(Document.id, Document.fields).where(
                Document.id.in_({a.document_id for a in agreed.labels})
            )
        ).all()
    )
    external = dict(
        session.execute(
            select(JobItem.id, JobItem.external_id).where(
                JobItem.id.in_({a.item_id for a in agreed.labels})
            )
        ).all()
    )
    models = dict(
        session.execute(
            select(Job.id, ModelVersion.name)
            .join(ModelVersion, ModelVersion.id == Job.model_version_id)
            .where(Job.id.in_(job_ids))
        ).all()
    )
    by_document: dict[int, ReviewedProtocol] = {}
    for label in agreed.labels:
        fields = dict(documents[label.document_id])
        protocol = Protocol(external[label.item_id], fields, label=label.level_code)
        by_document[label.document_id] = ReviewedProtocol(
            protocol, label.level_code, models[label.job_id], label.basis
        )
    return list(by_document.values()), agreed.unresolved
