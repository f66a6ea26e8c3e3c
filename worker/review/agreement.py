"""How far reviewers agree, what they disagree on, and which labels are settled.

Stage: none (the read side of reviews). Reads the reviews and adjudications and fills
:mod:`schema.views`; writes nothing.

Downstream of :mod:`worker.review.imports` (which stores the decisions): Cohen's kappa
per pair of reviewers, Fleiss' kappa overall, the ordinal figures (weighted kappas,
Krippendorff's alpha; :mod:`worker.review.ratings` computes them all), the model against
each reviewer, and apart for reviews given blind and sighted (:func:`blind_vs_sighted`);
the protocols they disagree on, for the Discussion workbook; and the
agreed label of each protocol - its adjudicated level if it has one, else the level all
its reviewers gave - which is what ``cenr train --from-reviews`` learns from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from schema.codebook import Codebook
from schema.errors import CodebookError, InputFileError, NotFound
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
from worker.model_store import codebook_of
from worker.review.ratings import (
    WEIGHTINGS,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    weighted_kappa,
    why_undefined,
)


def reviews_by_item(session: Session, job_id: str) -> dict[int, dict[str, tuple[str, str]]]:
    """job item -> reviewer -> (level code, rationale)."""
    by_item: dict[int, dict[str, tuple[str, str]]] = {}
    for item_id, reviewer, level, rationale in session.execute(
        select(Review.job_item_id, Review.reviewer, Review.level_code, Review.rationale).where(
            Review.job_id == job_id
        )
    ):
        by_item.setdefault(item_id, {})[reviewer] = (level, rationale)
    return by_item


def adjudications_of(session: Session, job_id: str) -> dict[int, tuple[str, str, str]]:
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


def require_reviews(report: dict[str, Any]) -> None:
    """Raise when an :func:`agreement` report has nothing to measure.

    Raises:
        InputFileError: the job has no reviews yet.
    """
    if not report["items_reviewed"]:
        raise InputFileError(
            f"job {report['job']} has no reviews yet: fill in its review workbook and "
            "`cenr review import` it first"
        )


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


def stored_level(codebook: Codebook, code: str, who: str, job_id: str, item_id: int) -> int:
    """The index of a stored decision's level.

    Raises:
        CodebookError: the level is not in the codebook (one line naming whose, and where).
    """
    try:
        return codebook.index_of(code)
    except CodebookError:
        raise CodebookError(
            f"job {job_id}: {who}'s level {code!r} for row {item_id} is not a level of "
            f"codebook '{codebook.name}' (levels: {', '.join(codebook.codes)})"
        ) from None


def level_scales(
    by_item: dict[int, dict[str, str]], codebook: Codebook, job_id: str
) -> tuple[dict[int, dict[str, int]], dict[int, dict[str, int]]]:
    """Each rating as its level's index on the codebook's scale, and on the coarse scale.

    Raises:
        CodebookError: a stored level is not in the codebook (one line naming it).
    """
    fine: dict[int, dict[str, int]] = {}
    coarse: dict[int, dict[str, int]] = {}
    for item, levels in by_item.items():
        for reviewer, code in levels.items():
            index = stored_level(codebook, code, reviewer, job_id, item)
            fine.setdefault(item, {})[reviewer] = index
            if codebook.coarse:
                coarse.setdefault(item, {})[reviewer] = codebook.coarse_index(index)
    return fine, coarse


def _ordinal(
    scale: dict[int, dict[str, int]], reviewers: list[str], n_levels: int
) -> dict[str, Any]:
    """Weighted kappas per pair and Krippendorff's alpha on one scale."""
    pairs = []
    for i, a in enumerate(reviewers):
        for b in reviewers[i + 1 :]:
            both = [levels for levels in scale.values() if a in levels and b in levels]
            first, second = [x[a] for x in both], [x[b] for x in both]
            pair: dict[str, Any] = {"reviewers": [a, b], "n": len(both)}
            for weights in WEIGHTINGS:
                pair[weights] = weighted_kappa(first, second, n_levels, weights)
            pair["why_undefined"] = (
                why_undefined(2, len(both), len(set(first) | set(second)))
                if pair["linear"] is None
                else None
            )
            pairs.append(pair)
    units = [[levels.get(r) for r in reviewers] for levels in scale.values()]
    shared = sum(len(levels) >= 2 for levels in scale.values())
    used = len({v for levels in scale.values() if len(levels) >= 2 for v in levels.values()})
    alpha = krippendorff_alpha(units, n_levels) if len(reviewers) >= 2 else None
    return {
        "pairs": pairs,
        "alpha": alpha,
        "units": shared,
        "why_undefined": None if alpha is not None else why_undefined(len(reviewers), shared, used),
    }


def _against_model(pairs: list[tuple[int, int]], n_levels: int) -> dict[str, Any]:
    """Reviewer against model over (reviewer's, model's) level indices: the share equal
    and the linear weighted kappa."""
    theirs, ours = [a for a, _ in pairs], [b for _, b in pairs]
    return {
        "n": len(pairs),
        "agreement": sum(a == b for a, b in pairs) / len(pairs) if pairs else None,
        "linear_kappa": weighted_kappa(theirs, ours, n_levels, "linear"),
    }


def blind_vs_sighted(
    session: Session, job: Job, codebook: Codebook, model: dict[int, str]
) -> dict[str, Any]:
    """The model's agreement with reviews given blind (the model's level unseen) and with
    those given sighted, side by side, per reviewer and overall: agreement with the model
    is only evidence for it where the reviewer could not be led by it."""
    rounds: dict[str, dict[str, list[tuple[int, int]]]] = {"blind": {}, "sighted": {}}
    for item_id, reviewer, code, blind in session.execute(
        select(Review.job_item_id, Review.reviewer, Review.level_code, Review.blind).where(
            Review.job_id == job.id
        )
    ):
        if item_id not in model:
            continue
        theirs = stored_level(codebook, code, reviewer, job.id, item_id)
        ours = stored_level(codebook, model[item_id], "the model", job.id, item_id)
        kind = "blind" if blind else "sighted"
        rounds[kind].setdefault(reviewer, []).append((theirs, ours))
    n_levels = len(codebook.levels)

    def side_by_side(pairs_of: Callable[[str], list[tuple[int, int]]]) -> dict[str, Any]:
        return {kind: _against_model(pairs_of(kind), n_levels) for kind in rounds}

    return {
        "blind_reviews": sum(len(pairs) for pairs in rounds["blind"].values()),
        "reviewers": [
            {"reviewer": name, **side_by_side(lambda kind: rounds[kind].get(name, []))}  # noqa: B023
            for name in sorted(set(rounds["blind"]) | set(rounds["sighted"]))
        ],
        "overall": side_by_side(lambda kind: [p for ps in rounds[kind].values() for p in ps]),
    }


def agreement(session: Session, job_id: str) -> dict[str, Any]:
    """Agreement between the job's reviewers, and between the model and each reviewer.

    Nominal (Cohen's kappa per pair, Fleiss' kappa), ordinal on the codebook's levels
    (weighted kappas per pair, Krippendorff's alpha) and the same ordinal figures on the
    coarse view. Adjudications are not ratings: they settle disagreements and are counted
    apart.

    Raises:
        CodebookError: a stored level is not in the job's codebook.
    """
    job = _job(session, job_id)
    by_item = {
        item: {name: level for name, (level, _) in decisions.items()}
        for item, decisions in reviews_by_item(session, job_id).items()
    }
    codebook = codebook_of(session, job.model_version_id)
    fine, coarse = level_scales(by_item, codebook, job_id)
    model = _model_levels(session, job)
    reviewers = sorted({r for levels in by_item.values() for r in levels})
    ordinal = _ordinal(fine, reviewers, len(codebook.levels))
    coarse_view = _ordinal(coarse, reviewers, len(codebook.coarse)) if coarse else None
    pairs, weighted = [], []
    for number, pair in enumerate(ordinal["pairs"]):
        a, b = pair["reviewers"]
        both = [levels for levels in by_item.values() if a in levels and b in levels]
        pairs.append(
            {
                "reviewers": [a, b],
                "n": len(both),
                "cohen_kappa": cohen_kappa([x[a] for x in both], [x[b] for x in both]),
            }
        )
        entry = {key: pair[key] for key in ("reviewers", "n", *WEIGHTINGS, "why_undefined")}
        if coarse_view is not None:
            entry["coarse"] = {w: coarse_view["pairs"][number][w] for w in WEIGHTINGS}
        weighted.append(entry)
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
    adjudicated = adjudications_of(session, job_id)
    return {
        "job": job_id,
        "reviewers": reviewers,
        "items_reviewed": len(by_item),
        "pairs": pairs,
        "fleiss_kappa": fleiss_kappa([[x[r] for r in reviewers] for x in complete])
        if len(reviewers) >= 2
        else None,
        "fleiss_n": len(complete),
        "weighted_kappa": weighted,
        "krippendorff_alpha": {
            "ordinal": ordinal["alpha"],
            "coarse": None if coarse_view is None else coarse_view["alpha"],
            "units": ordinal["units"],
            "why_undefined": ordinal["why_undefined"],
            "coarse_why_undefined": None if coarse_view is None else coarse_view["why_undefined"],
        },
        "coarse_levels": [c.name for c in codebook.coarse],
        "model_vs_reviewer": versus_model,
        "blind_vs_sighted": blind_vs_sighted(session, job, codebook, model),
        "disagreements": disagreements,
        "adjudicated": sorted(i for i in disagreements if i in adjudicated),
    }


def discussion_data(
    session: Session, job_id: str, agreement_lines: Sequence[str] = ()
) -> DiscussionData:
    """The protocols whose reviewers disagree, in submission order, for adjudication, with
    the agreement figures in words (``agreement_lines``) for the workbook's Agreement sheet."""
    job = _job(session, job_id)
    model = session.get(ModelVersion, job.model_version_id)
    assert model is not None  # a foreign key
    by_item = reviews_by_item(session, job_id)
    disputed = {
        item for item, decisions in by_item.items()
        if len({level for level, _ in decisions.values()}) > 1
    }  # fmt: skip
    adjudicated = adjudications_of(session, job_id)
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
    return DiscussionData(job_id, model.name, model.id, reviewers, rows, list(agreement_lines))


def agreed_labels(session: Session, job_ids: list[str]) -> AgreedLabels:
    """Each reviewed protocol's settled level: adjudicated, else unanimous; protocols the
    reviewers disagree on without an adjudication are left out (and counted)."""
    labels, unresolved = [], 0
    for job_id in job_ids:
        _job(session, job_id)
        by_item = reviews_by_item(session, job_id)
        adjudicated = adjudications_of(session, job_id)
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
