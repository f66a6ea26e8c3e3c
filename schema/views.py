"""The read model: what the exporters, the CLI and the portal show, as plain dataclasses.

The worker's queries (:mod:`worker.results`, :mod:`worker.review.agreement`) fill these from the
tables; nothing here touches SQLAlchemy, so an exporter can be tested by building them
directly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

from schema.evidence import Evidence
from schema.faithfulness import verdict_of_detail
from schema.protocol import Protocol
from schema.states import JobState


@dataclass
class JobStatus:
    """Counts of a job's protocols; a file not yet read, or unreadable, counts as one."""

    job: str
    status: str
    model: str
    total: int
    queued: int
    running: int
    done: int
    failed: int
    files: int
    created_at: str
    finished_at: str | None
    docs_per_second: float | None
    seconds_left: float | None
    out_dir: str
    exports: list[str]
    # protocols a lost worker held (running, with no progress for longer than a step can
    # run), and for how long the job has waited for them to be handed out again
    lost: int = 0
    waiting_seconds: float | None = None

    @property
    def progress_note(self) -> str:
        """What the job waits for, in words: the time left, or a lost worker's batch."""
        if self.lost:
            return (
                f"waiting {self.waiting_seconds:.0f} s for {self.lost} protocol(s) of a lost "
                "worker (handed out again after CENR_VISIBILITY_TIMEOUT)"
            )
        return f"{self.seconds_left:.0f} s left" if self.seconds_left is not None else ""

    @property
    def finished(self) -> bool:
        return self.status == JobState.DONE

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "progress_note": self.progress_note}


class _Judged:
    """A row with the erasure test's record (``faithfulness_detail``), read in words."""

    faithfulness_detail: dict[str, Any] | None

    @property
    def faithfulness_verdict(self) -> str:
        return verdict_of_detail(self.faithfulness_detail)


@dataclass
class ResultRow(_Judged):
    """One protocol of a job, as reviewers and exporters see it."""

    file: str
    position: int
    protocol_id: str
    status: str
    level_code: str | None
    confidence: float | None
    probabilities: list[float] | None
    faithfulness: float | None
    tokens_cut: int | None
    top_tokens: list[tuple[str, float]]
    error: str | None
    fields: dict[str, str] | None
    item_id: int | None = None  # the job item; None for a file that could not be read
    faithfulness_detail: dict[str, Any] | None = None


@dataclass
class ReviewRow(_Judged):
    """A classified protocol as the review workbook shows it (tokens are read lazily)."""

    item_id: int
    prediction_id: int
    protocol_id: str
    file: str
    fields: dict[str, str]
    level_index: int
    level_code: str
    confidence: float
    probabilities: list[float]
    faithfulness: float | None
    n_tokens: int
    tokens_cut: int
    top_tokens: list[tuple[str, float]]
    faithfulness_detail: dict[str, Any] | None = None
    evidence: Evidence | None = None  # stored with the prediction (schema.evidence)

    @property
    def title(self) -> str:
        return title_of(self.fields)


def title_of(fields: dict[str, str]) -> str:
    """A protocol's title field, or the start of its first field."""
    for name, value in fields.items():
        if "title" in name.lower() and value:
            return value
    first = next((v for v in fields.values() if v), "")
    return first[:120]


@dataclass
class ReviewData:
    """What a review export needs from the database for one job."""

    job_id: str
    model: str
    model_metrics: dict[str, Any]
    model_created_at: str
    data_fingerprint: str
    rows: list[ReviewRow]
    failures: list[ResultRow]
    attention: str = "bahdanau"
    model_version_id: int = 0
    # job item -> [(reviewer, level code)]: the reviewers' levels imported so far, then
    # the adjudicated level if there is one
    reviews: dict[int, list[tuple[str, str]]] = field(default_factory=dict)
    chosen_by: str = ""  # how the rows were chosen, when not the whole job (review next)


class TokenSpan(NamedTuple):
    """One stored token, as the exports read it: a tuple, because a year's job reads
    millions of them (building frozen dataclasses was a tenth of a workbook's time)."""

    position: int
    token: str
    field: str
    start: int
    end: int
    weight: float
    level_weights: list[float] | None


@dataclass
class DiscussionRow:
    """A protocol the reviewers disagree on, with what each of them said."""

    item_id: int
    protocol_id: str
    title: str
    fields: dict[str, str]
    model_level: str | None
    decisions: dict[str, tuple[str, str]]  # reviewer -> (level code, rationale)
    adjudication: tuple[str, str, str] | None  # (level code, rationale, adjudicator)


@dataclass
class DiscussionData:
    job_id: str
    model: str
    model_version_id: int
    reviewers: list[str]
    rows: list[DiscussionRow]
    agreement: list[str] = field(default_factory=list)  # the figures in words, a line each


@dataclass(frozen=True)
class AgreedLabel:
    job_id: str
    item_id: int
    document_id: int
    level_code: str
    basis: str  # "adjudicated" or "unanimous"


@dataclass
class AgreedLabels:
    labels: list[AgreedLabel]
    unresolved: int  # reviewers disagree and nobody adjudicated yet

    def to_dict(self) -> dict[str, Any]:
        bases = [label.basis for label in self.labels]
        return {
            "labels": len(self.labels),
            "adjudicated": bases.count("adjudicated"),
            "unanimous": bases.count("unanimous"),
            "unresolved": self.unresolved,
        }


@dataclass(frozen=True)
class ReviewedProtocol:
    """A protocol with its agreed level, and the model that classified it in its job."""

    protocol: Protocol
    level_code: str
    model: str
    basis: str


@dataclass
class CheckedLabel:
    """A reviewed protocol's label as a ``cenr review issues`` run checked it."""

    job_id: str
    item_id: int
    protocol_id: str
    title: str
    ratings: dict[str, str]  # reviewer -> level code
    level_code: str  # the label scored: agreed, else the consensus
    basis: str  # adjudicated | unanimous | disputed
    consensus_code: str
    probabilities: list[float]  # out of sample, codebook order
    self_confidence: float
    quality: float
    suspect_score: float
    flagged: bool
    reason: str


@dataclass
class LabelCheckReport:
    """A run's checked labels, most suspect first, and the reviewers' estimated quality."""

    run_id: int
    created_at: str
    jobs: list[str]
    model: str
    folds: int
    codes: list[str]
    labels: list[CheckedLabel]
    reviewers: list[dict[str, Any]]
    notes: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
