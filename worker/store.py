"""Writes of the pipeline: documents by content hash, job items, predictions, their
evidence by field, token weights.

Stage: store. May touch the documents, predictions, evidence, token weights and
processing errors tables; it is called by the extract and classify steps and calls no stage.

Token weights are the bulk of what is written (one row per token, thousands per
protocol), so they go in with PostgreSQL's ``COPY`` and SQLite's ``executemany``, in
the same transaction as their prediction. Predictions are inserted with
``ON CONFLICT DO NOTHING`` on (document, model version): a redelivered task, a second
worker on the same batch or a re-run job writes nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import psycopg
from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from schema.errors import DatabaseUnavailable
from schema.protocol import Protocol
from schema.tables import Document, EvidenceField, EvidencePassage, Prediction, ProcessingError

if TYPE_CHECKING:  # the classifier (TensorFlow) stays out of submit/status/export processes
    from classifier.inference import Prediction as ModelPrediction
    from classifier.tokenizer import Token

TOKEN_COLUMNS = (
    "prediction_id", "position", "token", "form", "field", "char_start", "char_end", "weight",
    "level_weights",
)  # fmt: skip
_CHUNK = 500  # ids per IN (...) list


def now() -> datetime:
    return datetime.now(UTC)


def chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _insert_ignoring_duplicates(session: Session, table: Any) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` for the session's dialect."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table).on_conflict_do_nothing()


def document_ids(session: Session, protocols: Sequence[Protocol]) -> list[int]:
    """The document id of each protocol, creating documents for new content."""
    hashes = [p.content_hash() for p in protocols]
    found = _ids_by_hash(session, hashes)
    new = {}
    for protocol, digest in zip(protocols, hashes, strict=True):
        if digest not in found and digest not in new:
            new[digest] = {
                "content_hash": digest,
                "external_id": protocol.protocol_id[:500],
                "fields": dict(protocol.fields),
                "text": protocol.text,
                "n_chars": sum(len(v) for v in protocol.fields.values()),
                "created_at": now(),
            }
    if new:
        session.execute(_insert_ignoring_duplicates(session, Document), list(new.values()))
        found |= _ids_by_hash(session, list(new))
    return [found[digest] for digest in hashes]


def _ids_by_hash(session: Session, hashes: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for part in chunks(sorted(set(hashes))):
        rows = session.execute(
            select(Document.content_hash, Document.id).where(Document.content_hash.in_(part))
        )
        found.update({digest: id_ for digest, id_ in rows})
    return found


def record_error(
    session: Session,
    job_id: str,
    stage: str,
    exc: BaseException | str,
    source_file_id: int | None = None,
    job_item_id: int | None = None,
) -> None:
    kind = type(exc).__name__ if isinstance(exc, BaseException) else "InputError"
    session.add(
        ProcessingError(
            job_id=job_id,
            source_file_id=source_file_id,
            job_item_id=job_item_id,
            stage=stage,
            kind=kind,
            message=" ".join(str(exc).split())[:4000],
            created_at=now(),
        )
    )


def store_predictions(
    session: Session,
    model_version_id: int,
    results: Iterable[tuple[int, ModelPrediction]],
) -> int:
    """Insert each (document id, prediction) not stored yet, with its token weights.

    One multi-row ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` for the predictions,
    then one bulk write of the new ones' token weights. Returns the token rows written.
    """
    results = list(dict(results).items())  # one prediction per document
    if not results:
        return 0
    rows = []
    for document_id, p in results:
        f = p.faithfulness
        rows.append(
            {
                "document_id": document_id,
                "model_version_id": model_version_id,
                "level_index": p.level_index,
                "level_code": p.level_code,
                "probabilities": [round(float(x), 6) for x in p.probabilities],
                "confidence": p.confidence,
                "faithfulness": f.score if f else None,
                "faithfulness_detail": f.to_detail() if f else None,
                "n_tokens": len(p.tokens),
                "tokens_cut": p.tokens_cut,
                "top_tokens": [[t.surface, round(w, 6)] for t, w in p.strongest_tokens(10)],
                "created_at": now(),
            }
        )
    statement = _insert_ignoring_duplicates(session, Prediction).returning(
        Prediction.id, Prediction.document_id
    )
    # Rows already stored (an earlier delivery of the same work) return nothing.
    new = dict((doc, pid) for pid, doc in session.execute(statement, rows).all())
    stored = [(new[document_id], p) for document_id, p in results if document_id in new]
    write_evidence(session, stored)
    return write_token_weights(session, [token_rows_of(pid, p) for pid, p in stored])


def write_evidence(session: Session, stored: Sequence[tuple[int, ModelPrediction]]) -> None:
    """Each new prediction's evidence by field: a row per field, one per passage."""
    shares, passages = [], []
    for prediction_id, p in stored:
        if p.evidence is None:
            continue
        shares += [
            {"prediction_id": prediction_id, "field": name, "share": round(share, 6)}
            for name, share in p.evidence.fields
        ]
        passages += [
            {
                "prediction_id": prediction_id, "rank": rank, "field": passage.field,
                "char_start": passage.start, "char_end": passage.end,
                "weight": passage.weight, "text": passage.text,
            }
            for rank, passage in enumerate(p.evidence.passages)
        ]  # fmt: skip
    if shares:
        session.execute(insert(EvidenceField), shares)
    if passages:
        session.execute(insert(EvidencePassage), passages)


def token_rows_of(prediction_id: int, p: ModelPrediction) -> TokenRows:
    """A prediction's tokens as columns (see :data:`TOKEN_COLUMNS`)."""
    per_level = p.weights_per_level
    return TokenRows(
        prediction_id=prediction_id,
        tokens=p.tokens,
        weights=p.weights.tolist(),
        level_weights=(
            [json.dumps([round(w, 7) for w in column]) for column in per_level.T.tolist()]
            if per_level is not None
            else None
        ),
    )


@dataclass(frozen=True)
class TokenRows:
    """The token-weight rows of one prediction, column-wise."""

    prediction_id: int
    tokens: Sequence[Token]
    weights: list[float]
    level_weights: list[str] | None  # JSON arrays, one per token

    def tuples(self) -> Iterator[tuple[Any, ...]]:
        per_level: Sequence[str | None] = self.level_weights or [None] * len(self.tokens)
        for position, (token, weight, levels) in enumerate(
            zip(self.tokens, self.weights, per_level, strict=True)
        ):
            yield (
                self.prediction_id, position, token.surface, token.form, token.field,
                token.start, token.end, weight, levels,
            )  # fmt: skip


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_column(values: list[str]) -> list[str]:
    """Text values escaped for COPY with one ``join``/``translate``/``split`` in C."""
    escaped = "\0".join(values).translate(_COPY_ESCAPES).split("\0")
    if len(escaped) != len(values):  # a value held a NUL: escape one by one
        escaped = [v.replace("\0", "").translate(_COPY_ESCAPES) for v in values]
    return escaped


def _copy_payload(batch: Sequence[TokenRows]) -> str:
    """COPY text format for the rows, built column-wise: per-row formatting (or psycopg's
    ``write_row``) made Python the bottleneck of storing."""
    lines = []
    for rows in batch:
        tokens = rows.tokens
        n = len(tokens)
        if not n:
            continue
        columns = zip(
            [str(rows.prediction_id)] * n,
            map(str, range(n)),
            _copy_column([t.surface for t in tokens]),
            _copy_column([t.form for t in tokens]),
            _copy_column([t.field for t in tokens]),
            [str(t.start) for t in tokens],
            [str(t.end) for t in tokens],
            map(repr, rows.weights),
            rows.level_weights or ["\\N"] * n,
            strict=True,
        )
        lines.append("\n".join(map("\t".join, columns)))
    return "\n".join(lines) + "\n"


def write_token_weights(session: Session, batch: Sequence[TokenRows]) -> int:
    """Bulk insert of token weights: ``COPY`` on PostgreSQL, ``executemany`` elsewhere."""
    n_rows = sum(len(rows.tokens) for rows in batch)
    if not n_rows:
        return 0
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        raw: Any = connection.connection.driver_connection
        statement = f"COPY token_weights ({', '.join(TOKEN_COLUMNS)}) FROM STDIN"
        try:
            with raw.cursor() as cursor, cursor.copy(statement) as copy:
                copy.write(_copy_payload(batch))
        except psycopg.OperationalError as exc:  # raw driver errors bypass SQLAlchemy's
            raise DatabaseUnavailable(f"database unavailable during COPY: {exc}") from exc
        return n_rows
    placeholders = ", ".join("?" * len(TOKEN_COLUMNS))
    connection.exec_driver_sql(
        f"INSERT INTO token_weights ({', '.join(TOKEN_COLUMNS)}) VALUES ({placeholders})",  # noqa: S608 - constant columns
        [row for rows in batch for row in rows.tuples()],
    )
    return n_rows
