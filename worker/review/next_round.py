"""What to review next: ``cenr review next``. The protocols most worth a reviewer's time.

Each classified protocol of the jobs gets a priority in [0, 1] from three signals:

- **uncertainty**, ``1 - margin``: one minus the gap between the two largest calibrated
  probabilities of the job's model (1 when it cannot tell two levels apart, 0 when it
  is sure). The margin rather than the entropy: with six levels the entropy is moved by
  the four levels nobody considers, the margin only by the two in question.
- **disagreement**, the spread of the reviewers' levels on the ordinal scale,
  ``(highest - lowest) / (levels - 1)``: 0 when they agree, 1 for a 0 against a 5.
  An adjudicated protocol is settled: 0.
- **suspect score**, ``1 - consensus quality`` from the newest ``cenr review issues`` run
  of the job (:mod:`worker.review.label_checks`); 0 for protocols it did not check.

A protocol nobody has reviewed scores its uncertainty: a label there teaches the model
most. A reviewed one scores the larger of its disagreement and its suspect score: a
label reviewers agree on and a model that never saw it does not doubt needs no second
look, however uncertain the model that labelled it first. The highest priorities come
first; ties go to the less confident prediction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from schema.views import LabelCheckReport, ReviewData, ReviewRow

if TYPE_CHECKING:
    from worker.export import Kept


@dataclass(frozen=True)
class Priority:
    item_id: int
    priority: float
    uncertainty: float
    disagreement: float
    suspect: float
    reviewed: bool

    def why(self) -> str:
        if not self.reviewed:
            return f"not reviewed; model uncertainty {self.uncertainty:.2f}"
        return f"reviewed; disagreement {self.disagreement:.2f}, suspect score {self.suspect:.2f}"


def uncertainty(probabilities: Sequence[float]) -> float:
    """``1 - (p_first - p_second)`` of calibrated probabilities."""
    first, second = sorted(probabilities, reverse=True)[:2]
    return round(1.0 - (first - second), 6)


def disagreement(levels: Sequence[int], n_levels: int) -> float:
    """The spread of reviewers' level indices on the scale, 0 for fewer than two."""
    if len(levels) < 2 or n_levels < 2:
        return 0.0
    return (max(levels) - min(levels)) / (n_levels - 1)


def priority_of(
    probabilities: Sequence[float], reviewed: bool, spread: float, suspect: float
) -> float:
    """A protocol's priority: its uncertainty if nobody has reviewed it, else the larger
    of the reviewers' disagreement and its suspect score."""
    return round(max(spread, suspect) if reviewed else uncertainty(probabilities), 6)


def prioritise(
    data: ReviewData, codes: Sequence[str], check: LabelCheckReport | None
) -> list[tuple[ReviewRow, Priority]]:
    """Every row of ``data`` with its priority, highest first."""
    suspect = {c.item_id: c.suspect_score for c in check.labels} if check else {}
    index = {code: i for i, code in enumerate(codes)}
    ranked = []
    for row in data.rows:
        decisions = data.reviews.get(row.item_id, [])
        settled = any(who.startswith("adjudicated by ") for who, _ in decisions)
        levels = [index[level] for who, level in decisions if level in index and
                  not who.startswith("adjudicated by ")]  # fmt: skip
        spread = 0.0 if settled else disagreement(levels, len(codes))
        doubt = suspect.get(row.item_id, 0.0)
        unsure = uncertainty(row.probabilities)
        reviewed = bool(decisions)
        priority = priority_of(row.probabilities, reviewed, spread, doubt)
        ranked.append((row, Priority(row.item_id, priority, unsure, spread, doubt, reviewed)))
    ranked.sort(key=lambda pair: (-pair[1].priority, pair[0].confidence, pair[0].item_id))
    return ranked


def next_for_review(
    session: Session, job_ids: Sequence[str], n: int
) -> list[tuple[ReviewData, list[Priority]]]:
    """The ``n`` highest priorities across the jobs, as each job's review data holding only
    its chosen protocols, in priority order (a job with none chosen is left out)."""
    from worker.model_store import codebook_of
    from worker.results import review_data
    from worker.review.label_checks import latest_label_check

    candidates = []
    for job_id in job_ids:
        data = review_data(session, job_id)
        codes = codebook_of(session, data.model_version_id).codes
        ranked = prioritise(data, codes, latest_label_check(session, job_id))
        candidates += [(data, row, priority) for row, priority in ranked]
    candidates.sort(key=lambda c: (-c[2].priority, c[1].confidence, c[0].job_id, c[1].item_id))
    chosen = candidates[:n]
    result = []
    for job_id in job_ids:
        mine = [(data, row, priority) for data, row, priority in chosen if data.job_id == job_id]
        if mine:
            rows = [row for _, row, _ in mine]
            result.append((replace(mine[0][0], rows=rows), [p for _, _, p in mine]))
    return result


def write_next(
    session: Session,
    job_ids: Sequence[str],
    n: int,
    path: Path,
    reviewers: Sequence[str] = (),
    overlap: float = 0.0,
    kept: list[Kept] | None = None,
) -> list[tuple[Path, int]]:
    """The chosen protocols as review workbooks (``path``; ``path-JOB.xlsx`` each when
    they come from several jobs), dealt to ``reviewers`` as ``cenr export`` deals; the
    files and how many protocols each holds. They import back with ``cenr review import``.
    A workbook there holding levels never imported is kept, the new one written beside it
    (:func:`worker.export.free_target`; ``kept`` collects them)."""
    from exporters.workbook import write_review_workbooks
    from worker.export import free_target
    from worker.model_store import codebook_of
    from worker.results import token_spans

    chosen = next_for_review(session, job_ids, n)
    written = []
    held: list[Kept] = [] if kept is None else kept
    for data, priorities in chosen:
        target = (
            path if len(chosen) == 1 else path.with_name(f"{path.stem}-{data.job_id}{path.suffix}")
        )
        data.chosen_by = (
            f"chosen by `cenr review next` as the {len(priorities)} protocol(s) of this job most "
            "worth a reviewer's time, highest priority first (README: What to review next)"
        )
        codebook = codebook_of(session, data.model_version_id)
        files = write_review_workbooks(
            target, data, codebook, lambda pid: token_spans(session, pid),
            per_workbook=max(1, len(data.rows)), reviewers=reviewers, overlap=overlap,
            target_of=lambda target: free_target(session, target, held),
        )  # fmt: skip
        written += [(file, len(data.rows)) for file in files]
    return written
