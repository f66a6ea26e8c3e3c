"""Writes of the pipeline: documents by content hash, job items, predictions, token weights.

Token weights are the bulk of what is written (one row per token, thousands per
protocol), so they go in with PostgreSQL's ``COPY`` and SQLite's ``executemany``, in
the same transaction as their prediction. Predictions are inserted with
``ON CONFLICT DO NOTHING`` on (document, model version): a redelivered task, a second
worker on the same batch or a re-run job writes nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from classifier.inference import Prediction as ModelPrediction
from schema.errors import DatabaseUnavailable
from schema.protocol import Protocol
from schema.tables import Document, Prediction, ProcessingError, TokenWeight

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

    Returns the number of token-weight rows written.
    """
    statement = _insert_ignoring_duplicates(session, Prediction).returning(Prediction.id)
    token_rows: list[tuple[Any, ...]] = []
    for document_id, p in results:
        f = p.faithfulness
        prediction_id = session.execute(
            statement,
            {
                "document_id": document_id,
                "model_version_id": model_version_id,
                "level_index": p.level_index,
                "level_code": p.level_code,
                "probabilities": [round(float(x), 6) for x in p.probabilities],
                "confidence": p.confidence,
                "faithfulness": f.score if f else None,
                "faithfulness_detail": (
                    {"k": f.k, "top_drop": f.top_drop, "random_drop": f.random_drop} if f else None
                ),
                "n_tokens": len(p.tokens),
                "tokens_cut": p.tokens_cut,
                "created_at": now(),
            },
        ).scalar()
        if prediction_id is None:  # stored by an earlier delivery of the same work
            continue
        per_level = p.weights_per_level
        for position, (token, weight) in enumerate(zip(p.tokens, p.weights, strict=True)):
            token_rows.append(
                (
                    prediction_id,
                    position,
                    token.surface[:200],
                    token.form[:200],
                    token.field[:200],
                    token.start,
                    token.end,
                    float(weight),
                    [round(float(w), 7) for w in per_level[:, position]]
                    if per_level is not None
                    else None,
                )
            )
    write_token_weights(session, token_rows)
    return len(token_rows)


def write_token_weights(session: Session, rows: Sequence[tuple[Any, ...]]) -> None:
    """Bulk insert of token-weight tuples in :data:`TOKEN_COLUMNS` order."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        raw: Any = connection.connection.driver_connection
        columns = ", ".join(TOKEN_COLUMNS)
        statement = f"COPY token_weights ({columns}) FROM STDIN"
        try:
            with raw.cursor() as cursor, cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(
                        (*row[:-1], json.dumps(row[-1]) if row[-1] is not None else None)
                    )
        except psycopg.OperationalError as exc:  # raw driver errors bypass SQLAlchemy's
            raise DatabaseUnavailable(f"database unavailable during COPY: {exc}") from exc
        return
    session.execute(
        insert(TokenWeight), [dict(zip(TOKEN_COLUMNS, row, strict=True)) for row in rows]
    )
