"""Suspect labels: ``cenr review issues``. Which agreed labels look wrong, given a model
that never saw them and the reviewers' spread, and how good each reviewer looks.

Stage: none (the read side of reviews, plus a cross-validation). Reads the jobs' reviews
and adjudications (:mod:`worker.review.agreement`), trains ``folds`` models the way the newest
job's model was trained (:mod:`classifier.crossval`), scores the labels with cleanlab
(:mod:`worker.review.label_quality`) and stores the run (``label_check_runs``, ``label_checks``),
so that the portal and ``cenr review next`` read it without training again.

A document reviewed in several jobs is checked once, with its latest job's reviews: the
same text on both sides of a fold would make the check in-sample.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal, TextIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schema.codebook import Codebook
from schema.errors import CodebookError, InputFileError, NotFound, TrainingDataError
from schema.protocol import Protocol
from schema.tables import Document, Job, JobItem, LabelCheck, LabelCheckRun, ModelVersion
from schema.views import CheckedLabel, LabelCheckReport, title_of
from worker.model_store import codebook_of, config_of
from worker.review.agreement import adjudications_of, reviews_by_item, stored_level
from worker.review.label_quality import Rated, score_labels, training_label


@dataclasses.dataclass(frozen=True)
class _Reviewed:
    job_id: str
    item_id: int
    protocol: Protocol
    rated: Rated


def reviewed_round(session: Session, job_ids: Sequence[str]) -> tuple[list[_Reviewed], Codebook]:
    """The jobs' reviewed protocols (one per document, the latest job's) and the codebook.

    Raises:
        NotFound: a job does not exist.
        ConfigError: the jobs' models use different levels.
        CodebookError: a stored level is not in the codebook.
        InputFileError: the jobs have no reviews.
    """
    codebook: Codebook | None = None
    by_document: dict[int, _Reviewed] = {}
    for job_id in job_ids:
        job = session.get(Job, job_id)
        if job is None:
            raise NotFound(f"no job {job_id!r}; `cenr status` shows the newest")
        this = codebook_of(session, job.model_version_id)
        if codebook is not None and this.codes != codebook.codes:
            raise CodebookError(
                f"job {job_id}'s model uses levels {', '.join(this.codes)}, job {job_ids[0]}'s "
                f"{', '.join(codebook.codes)}: check their labels separately"
            )
        codebook = this
        decisions = reviews_by_item(session, job_id)
        settled = adjudications_of(session, job_id)
        items = set(decisions) | set(settled)
        rows = session.execute(
            select(JobItem.id, JobItem.external_id, JobItem.document_id, Document.fields)
            .join(Document, Document.id == JobItem.document_id)
            .where(JobItem.id.in_(items))
        ).all()
        for item_id, external_id, document_id, fields in rows:
            assert document_id is not None  # joined to its document
            ratings = {
                who: stored_level(codebook, level, who, job_id, item_id)
                for who, (level, _) in decisions.get(item_id, {}).items()
            }
            if item_id in settled:
                level, _, adjudicator = settled[item_id]
                agreed, basis = (
                    stored_level(codebook, level, adjudicator, job_id, item_id),
                    "adjudicated",
                )
                ratings = ratings or {adjudicator: agreed}
            elif len(set(ratings.values())) == 1:
                agreed, basis = next(iter(ratings.values())), "unanimous"
            else:
                agreed, basis = None, "disputed"
            protocol = Protocol(external_id, dict(fields))
            by_document[document_id] = _Reviewed(
                job_id, item_id, protocol, Rated(ratings, agreed, basis)
            )
    if not by_document:
        raise InputFileError(
            f"job(s) {', '.join(job_ids)} have no reviews yet: fill in their review workbooks "
            "and `cenr review import` them first"
        )
    assert codebook is not None
    return list(by_document.values()), codebook


def check_labels(
    session: Session,
    job_ids: Sequence[str],
    folds: int = 5,
    epochs: int | None = None,
    progress: TextIO | Literal["stderr"] | None = "stderr",
) -> LabelCheckReport:
    """Cross-validate the jobs' reviewed protocols, score every label, store the run.

    Raises:
        InputFileError: no reviews. TrainingDataError: too few reviewed protocols, or
        levels, to cross-validate. The others of :func:`reviewed_round`.
    """
    from classifier.crossval import MIN_PER_LEVEL, out_of_fold_probabilities, thin_levels
    from classifier.training import TrainingOptions

    reviewed, codebook = reviewed_round(session, job_ids)
    labels = [training_label(r.rated) for r in reviewed]
    thin = thin_levels(labels)
    notes = []
    if thin:
        left_out = sum(label in thin for label in labels)
        codes = ", ".join(codebook.levels[i].code for i in sorted(thin))
        notes.append(
            f"{left_out} protocol(s) at level(s) {codes} not checked: a level needs at least "
            f"{MIN_PER_LEVEL} reviewed protocols to cross-validate"
        )
    kept = [i for i, label in enumerate(labels) if label not in thin]
    if len({labels[i] for i in kept}) < 2:
        raise TrainingDataError(
            f"{len(reviewed)} reviewed protocol(s), but fewer than two levels with at least "
            f"{MIN_PER_LEVEL} each: review more protocols before checking their labels"
        )
    newest = session.get(Job, job_ids[-1])
    assert newest is not None  # reviewed_round found it
    saved = config_of(session, newest.model_version_id).get("training", {})
    names = {f.name for f in dataclasses.fields(TrainingOptions)}
    options = TrainingOptions(**{k: v for k, v in saved.items() if k in names})
    if epochs is not None:
        options = dataclasses.replace(options, epochs=epochs)
    subset = [reviewed[i] for i in kept]
    oof = out_of_fold_probabilities(
        [r.protocol for r in subset], [labels[i] for i in kept], codebook, options, folds,
        progress,
    )  # fmt: skip
    scored, reviewers, warned = score_labels([r.rated for r in subset], oof.probabilities, codebook)
    run = LabelCheckRun(
        created_at=datetime.now(UTC), jobs=list(job_ids),
        model_version_id=newest.model_version_id, folds=oof.folds,
        reviewers=[dataclasses.asdict(q) for q in reviewers], notes=notes + warned,
    )  # fmt: skip
    session.add(run)
    session.flush()
    code = codebook.levels
    session.add_all(
        LabelCheck(
            run_id=run.id,
            job_item_id=r.item_id,
            job_id=r.job_id,
            level_code=code[s.label].code,
            basis=r.rated.basis,
            consensus_code=code[s.consensus].code,
            probabilities=[round(float(p), 6) for p in oof.probabilities[n]],
            self_confidence=s.self_confidence,
            quality=s.quality,
            suspect_score=s.suspect_score,
            flagged=s.flagged,
            reason=s.reason,
        )
        for n, (r, s) in enumerate(zip(subset, scored, strict=True))
    )
    session.flush()
    return label_check_report(session, run.id)


def label_check_report(session: Session, run_id: int) -> LabelCheckReport:
    """A stored run, its labels most suspect first."""
    run = session.get(LabelCheckRun, run_id)
    if run is None:
        raise NotFound(f"no label check {run_id}")
    model = session.get(ModelVersion, run.model_version_id)
    assert model is not None  # a foreign key
    codebook = codebook_of(session, run.model_version_id)
    checks = session.execute(
        select(LabelCheck, JobItem.external_id, Document.fields)
        .join(JobItem, JobItem.id == LabelCheck.job_item_id)
        .join(Document, Document.id == JobItem.document_id)
        .where(LabelCheck.run_id == run_id)
        .order_by(
            LabelCheck.suspect_score.desc(), LabelCheck.self_confidence, LabelCheck.job_item_id
        )
    ).all()
    ratings: dict[tuple[str, int], dict[str, str]] = {}
    for job_id in run.jobs:
        for item_id, decisions in reviews_by_item(session, job_id).items():
            ratings[job_id, item_id] = {who: level for who, (level, _) in decisions.items()}
    labels = [
        CheckedLabel(
            job_id=c.job_id,
            item_id=c.job_item_id,
            protocol_id=external_id,
            title=title_of(dict(fields)),
            ratings=ratings.get((c.job_id, c.job_item_id), {}),
            level_code=c.level_code,
            basis=c.basis,
            consensus_code=c.consensus_code,
            probabilities=list(c.probabilities),
            self_confidence=c.self_confidence,
            quality=c.quality,
            suspect_score=c.suspect_score,
            flagged=c.flagged,
            reason=c.reason,
        )
        for c, external_id, fields in checks
    ]
    return LabelCheckReport(
        run_id=run.id, created_at=run.created_at.isoformat(), jobs=list(run.jobs),
        model=model.name, folds=run.folds, codes=codebook.codes, labels=labels,
        reviewers=list(run.reviewers), notes=list(run.notes),
    )  # fmt: skip


def latest_label_check(session: Session, job_id: str) -> LabelCheckReport | None:
    """The newest run that checked ``job_id``'s labels, or None."""
    run_id = session.scalar(select(func.max(LabelCheck.run_id)).where(LabelCheck.job_id == job_id))
    return None if run_id is None else label_check_report(session, run_id)
