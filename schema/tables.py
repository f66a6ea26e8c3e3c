"""SQLAlchemy 2 tables. Changes go through an Alembic migration in ``schema/migrations``.

Data flows one way through them::

    jobs ─< source_files ─< job_items >─ documents ─< predictions ─< token_weights
                                                          │    ├─< evidence_fields
                                             model_versions    └─< evidence_passages

A job is one submission (``cenr run``, ``cenr submit``, one file seen by ``cenr watch``).
Its source files carry their bytes until extraction, so a worker on another host needs
no shared folder. Extraction turns each file into job items, one per protocol; an item
points at a :class:`Document`, which is unique by content hash, so the same content
submitted twice is one document. A document has at most one prediction per model
version (a unique constraint), which makes classification idempotent: a redelivered or
re-run task finds the prediction and writes nothing twice. Every failure is a row in
``processing_errors`` naming the file, the row and the reason.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class ModelVersion(Base):
    """A trained model version: its name, design, data fingerprint and held-out metrics."""

    __tablename__ = "model_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    attention: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    path: Mapped[str] = mapped_column(String(1000))
    data_fingerprint: Mapped[str] = mapped_column(String(64))
    n_training: Mapped[int] = mapped_column(Integer)
    accuracy: Mapped[float | None] = mapped_column(Float, nullable=True)
    macro_f1: Mapped[float | None] = mapped_column(Float, nullable=True)
    temperature: Mapped[float] = mapped_column(Float)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)


class Job(Base):
    """One submission. ``status``: a :class:`schema.states.JobState`.

    ``created`` means committed but not yet handed to the queue: whoever created it (or a
    restarted watcher) dispatches it, so a crash between the two loses nothing.
    """

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    status: Mapped[str] = mapped_column(String(20), index=True)
    origin: Mapped[str] = mapped_column(String(20))
    out_dir: Mapped[str] = mapped_column(String(1000))
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    exports: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    # when the stall sweeper last queued the job again (see worker.sweeper)
    requeued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # sweeps in a row with no protocol finished in between (see worker.sweeper)
    requeue_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class SourceFile(Base):
    """A submitted file. ``status``: a :class:`schema.states.FileState`. ``content`` is dropped
    once its protocols are documents."""

    __tablename__ = "source_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    path: Mapped[str] = mapped_column(String(2000))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    content: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)
    status: Mapped[str] = mapped_column(String(20))
    n_documents: Mapped[int] = mapped_column(Integer, default=0)
    watch_path: Mapped[str | None] = mapped_column(String(2000), nullable=True, index=True)


class Document(Base):
    """A protocol's content, stored once whatever number of times it is submitted."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    external_id: Mapped[str] = mapped_column(String(500))
    fields: Mapped[dict[str, str]] = mapped_column(JSON)
    text: Mapped[str] = mapped_column(Text)
    n_chars: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class JobItem(Base):
    """One protocol of one job: the file and row it came from, and where it stands.

    ``status``: a :class:`schema.states.ItemState`. ``document_id`` is empty when the row
    failed before it became a document (no text, say).
    """

    __tablename__ = "job_items"
    __table_args__ = (UniqueConstraint("source_file_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    source_file_id: Mapped[int] = mapped_column(ForeignKey("source_files.id"))
    position: Mapped[int] = mapped_column(Integer)  # row number in a table, 1 for a document
    external_id: Mapped[str] = mapped_column(String(500))
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"), nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    # when its classification last started: running for longer than a step can run means
    # its worker was lost
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Prediction(Base):
    """A model version's answer for a document; at most one per (document, version)."""

    __tablename__ = "predictions"
    __table_args__ = (UniqueConstraint("document_id", "model_version_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    level_index: Mapped[int] = mapped_column(Integer)
    level_code: Mapped[str] = mapped_column(String(20), index=True)
    probabilities: Mapped[list[float]] = mapped_column(JSON)
    confidence: Mapped[float] = mapped_column(Float)
    faithfulness: Mapped[float | None] = mapped_column(Float, nullable=True)
    faithfulness_detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    n_tokens: Mapped[int] = mapped_column(Integer)
    tokens_cut: Mapped[int] = mapped_column(Integer)
    # The ten strongest [token, weight] pairs, kept with the prediction so that listing a
    # job's results does not sort every token of every prediction again.
    top_tokens: Mapped[list[list[Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TokenWeight(Base):
    """One token of a prediction: where it is in the original text and its weight.

    ``weight`` is the attention on the token for the predicted level; the label-wise
    model also stores every level's weight in ``level_weights`` (codebook order).
    """

    __tablename__ = "token_weights"

    # No foreign key on purpose: PostgreSQL checks one per row, which made the bulk COPY
    # 4.4x slower (bench/service_throughput.py). Rows are only ever written together with
    # their prediction, in its transaction (worker/store.py); the primary key still
    # refuses a token stored twice.
    prediction_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(Text)  # as written
    form: Mapped[str] = mapped_column(Text)  # as the model saw it
    field: Mapped[str] = mapped_column(Text)
    char_start: Mapped[int] = mapped_column(Integer)
    char_end: Mapped[int] = mapped_column(Integer)
    weight: Mapped[float] = mapped_column(Float)
    level_weights: Mapped[list[float] | None] = mapped_column(JSON, nullable=True)


class EvidenceField(Base):
    """A field's share of a prediction's heat-map weight (:mod:`schema.evidence`): one row
    per field of the protocol, shares summing to 1 (all 0 when no token carries weight)."""

    __tablename__ = "evidence_fields"

    prediction_id: Mapped[int] = mapped_column(ForeignKey("predictions.id"), primary_key=True)
    field: Mapped[str] = mapped_column(Text, primary_key=True)
    share: Mapped[float] = mapped_column(Float)


class EvidencePassage(Base):
    """One of a prediction's strongest passages, ``rank`` 0 the strongest."""

    __tablename__ = "evidence_passages"

    prediction_id: Mapped[int] = mapped_column(ForeignKey("predictions.id"), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    field: Mapped[str] = mapped_column(Text)
    char_start: Mapped[int] = mapped_column(Integer)
    char_end: Mapped[int] = mapped_column(Integer)
    weight: Mapped[float] = mapped_column(Float)  # of the tokens inside it
    text: Mapped[str] = mapped_column(Text)


class ProcessingError(Base):
    """Why a file, a row or a job failed: the stage, the kind of error and the message."""

    __tablename__ = "processing_errors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    source_file_id: Mapped[int | None] = mapped_column(ForeignKey("source_files.id"), nullable=True)
    job_item_id: Mapped[int | None] = mapped_column(ForeignKey("job_items.id"), nullable=True)
    stage: Mapped[str] = mapped_column(String(20))  # extract | classify | export
    kind: Mapped[str] = mapped_column(String(100))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class _Decision:
    """A person's level for one protocol of a job, imported from a workbook."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    job_item_id: Mapped[int] = mapped_column(ForeignKey("job_items.id"))
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    reviewer: Mapped[str] = mapped_column(String(200))
    level_code: Mapped[str] = mapped_column(String(20))
    rationale: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(2000))  # the workbook it came from
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Review(_Decision, Base):
    """A reviewer's level for one protocol of a job, imported from a review workbook.

    One row per (job item, reviewer): importing the same workbook again changes nothing,
    and a changed level replaces the earlier one (with the time it was imported); each
    change is a :class:`LabelEvent`.
    """

    __tablename__ = "reviews"
    __table_args__ = (UniqueConstraint("job_item_id", "reviewer"),)

    # from a blind workbook (the protocol text alone, nothing the model said)
    blind: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Adjudication(_Decision, Base):
    """The final level of a protocol the reviewers disagreed on, imported from the
    Discussion workbook; ``reviewer`` is the adjudicator. One per job item: a later
    adjudication replaces the earlier one."""

    __tablename__ = "adjudications"
    __table_args__ = (UniqueConstraint("job_item_id"),)


class LabelCheckRun(Base):
    """One ``cenr review issues`` run: which jobs' reviews it checked, how the out-of-sample
    probabilities were made, and each reviewer's estimated quality (JSON list)."""

    __tablename__ = "label_check_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    jobs: Mapped[list[str]] = mapped_column(JSON)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    folds: Mapped[int] = mapped_column(Integer)
    reviewers: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    notes: Mapped[list[str]] = mapped_column(JSON)  # protocols not scored, cleanlab's warnings


class LabelCheck(Base):
    """A reviewed protocol's label as one run checked it (``worker.review.label_quality``)."""

    __tablename__ = "label_checks"

    run_id: Mapped[int] = mapped_column(ForeignKey("label_check_runs.id"), primary_key=True)
    job_item_id: Mapped[int] = mapped_column(ForeignKey("job_items.id"), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    level_code: Mapped[str] = mapped_column(String(20))  # the label scored
    basis: Mapped[str] = mapped_column(String(20))  # adjudicated | unanimous | disputed
    consensus_code: Mapped[str] = mapped_column(String(20))
    probabilities: Mapped[list[float]] = mapped_column(JSON)  # out of sample
    self_confidence: Mapped[float] = mapped_column(Float)
    quality: Mapped[float] = mapped_column(Float)
    suspect_score: Mapped[float] = mapped_column(Float)
    flagged: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text)


class User(Base):
    """A person who signs in to the portal. ``role``: ``admin`` (uploads protocols, manages
    models and users) or ``reviewer`` (downloads and returns review workbooks). Only an
    Argon2 hash of the password is kept."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    active: Mapped[bool] = mapped_column(default=True)


class ModelFile(Base):
    """One file of a registered model version (weights, vocabulary, codebook, config):
    the model store. Workers on any host fetch a version from here into their local
    cache, checking each file's SHA-256, so they need no shared folder."""

    __tablename__ = "model_files"

    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)


class UserSession(Base):
    """A portal sign-in, kept on the server so that it can be ended: by logging out, by a
    password reset, by ``cenr users disable``. The cookie holds a random token; only its
    SHA-256 is stored (``id``), so the table cannot be replayed. ``login_token`` is the
    SHA-256 of the sign-in form's token that made it: unique, so each form signs in once."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_why: Mapped[str | None] = mapped_column(String(40), nullable=True)
    login_token: Mapped[str] = mapped_column(String(64), unique=True)
    client: Mapped[str] = mapped_column(String(100))


class SignInFailure(Base):
    """A failed sign-in: the name tried and the client's address. The throttle counts
    these per account and per address; they are also the log of attempts."""

    __tablename__ = "sign_in_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    username: Mapped[str] = mapped_column(String(100), index=True)
    client: Mapped[str] = mapped_column(String(100), index=True)


class JobAssignment(Base):
    """A job dealt to a reviewer: they see it in the portal, download its workbooks and
    return their levels. Admins see every job; a reviewer only the jobs assigned to them."""

    __tablename__ = "job_assignments"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    assigned_by: Mapped[str] = mapped_column(String(200))


class LabelEvent(Base):
    """One change of a stored level: a review imported, changed or removed, a protocol
    adjudicated or its adjudication changed. Append-only: the code only inserts, and the
    database refuses an UPDATE or DELETE (triggers of migration 0013), so the history
    says who changed what, when and from what, however often a level is replaced.

    ``actor`` is who did it (the signed-in portal user; on the command line the
    ``--reviewer`` name and the operating-system user), ``reviewer`` whose level it is
    (the adjudicator's for an adjudication). ``protocol`` is the job item's Protocol ID
    and ``source`` the workbook's base name, never a server path. ``channel``: ``portal``,
    ``cli``, or ``backfill`` for the rows migration 0013 made from the levels stored then.
    """

    __tablename__ = "label_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    action: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(300))
    channel: Mapped[str] = mapped_column(String(20))
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    job_item_id: Mapped[int] = mapped_column(ForeignKey("job_items.id"), index=True)
    protocol: Mapped[str] = mapped_column(String(500))
    reviewer: Mapped[str] = mapped_column(String(200))
    from_level: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_level: Mapped[str | None] = mapped_column(String(20), nullable=True)
    rationale: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(300))


class ReviewRound(Base):
    """A job's current review round, dealt from the portal: the reviewers its workbooks
    go to, the share every one of them reviews (``overlap``) and whether it is blind (each
    reviewer's workbook, bundle and pages hold the protocol text alone, nothing the model
    said). Dealing again replaces it."""

    __tablename__ = "review_rounds"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), primary_key=True)
    reviewers: Mapped[list[str]] = mapped_column(JSON)
    overlap: Mapped[float] = mapped_column(Float)
    blind: Mapped[bool] = mapped_column(Boolean)
    dealt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    dealt_by: Mapped[str] = mapped_column(String(200))
