"""What ``cenr train`` learns from and is judged on: a labelled file, reviewed jobs, or both.

From a file: its rows, with ``--test DATA2`` or a seeded stratified ``--test-size`` held
out. From reviews (``--from-reviews JOB...``): each reviewed protocol's agreed level
(adjudicated, else unanimous); the held-out protocols are drawn from the reviewed ones,
so the models that classified those jobs can be scored on exactly the same protocols as
the new one. A file given as well adds its rows to the training side, except rows whose
text is a reviewed protocol's (the review's label wins, and a held-out protocol never
leaks into training).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schema.codebook import Codebook
from schema.errors import CenrError, ConfigError, TrainingDataError
from schema.protocol import Protocol


@dataclass
class TrainingSet:
    train: list[Protocol]
    train_labels: list[int]
    test: list[Protocol]
    test_labels: list[int]
    columns: dict[str, Any]
    source: dict[str, Any]  # where the data came from, saved with the model
    baselines: list[str] = field(default_factory=list)  # models to compare with on ``test``


def level_indices(protocols: list[Protocol], codebook: Codebook, where: str) -> list[int]:
    labels = []
    for protocol in protocols:
        try:
            labels.append(codebook.index_of(protocol.label))
        except CenrError as exc:
            raise type(exc)(f"{where}: protocol {protocol.protocol_id}: {exc}") from exc
    return labels


def _split(
    protocols: list[Protocol], labels: list[int], codebook: Codebook, share: float, seed: int
) -> tuple[list[Protocol], list[int], list[Protocol], list[int]]:
    from classifier.training import check_training_labels, stratified_split

    if share <= 0:
        raise TrainingDataError(
            "give --test DATA or a --test-size above 0: a model needs held-out data"
        )
    check_training_labels(labels, codebook, min_per_class=3)
    kept, held = stratified_split(labels, share, seed, "test")
    return (
        [protocols[i] for i in kept],
        [labels[i] for i in kept],
        [protocols[i] for i in held],
        [labels[i] for i in held],
    )


def _read(args: argparse.Namespace, path: Path, codebook: Codebook) -> list[Protocol]:
    from worker.extract.tables import read_protocols

    if not (args.text_column and args.label_column):
        raise ConfigError(f"{path}: say which columns hold the text and the level: "
                          "--text-column COL (repeatable) and --label-column COL")  # fmt: skip
    return read_protocols(path, args.text_column, args.label_column, args.id_column)


def _file_columns(args: argparse.Namespace) -> dict[str, Any]:
    return {"text": list(args.text_column or []), "label": args.label_column,
            "id": args.id_column}  # fmt: skip


def from_file(args: argparse.Namespace, codebook: Codebook, seed: int) -> TrainingSet:
    protocols = _read(args, args.data, codebook)
    labels = level_indices(protocols, codebook, str(args.data))
    source = {"data_file": str(args.data)}
    if args.test:
        test = _read(args, args.test, codebook)
        return TrainingSet(protocols, labels, test, level_indices(test, codebook, str(args.test)),
                           _file_columns(args), source)  # fmt: skip
    return TrainingSet(
        *_split(protocols, labels, codebook, args.test_size, seed), _file_columns(args), source
    )


def from_reviews(
    args: argparse.Namespace, codebook: Codebook, seed: int, engine: Any
) -> TrainingSet:
    from schema.database import session_scope
    from worker.review.agreement import reviewed_protocols

    jobs = list(dict.fromkeys(args.from_reviews))
    with session_scope(engine) as session:
        reviewed, unresolved = reviewed_protocols(session, jobs)
    where = f"reviews of job(s) {', '.join(jobs)}"
    if not reviewed:
        raise TrainingDataError(
            f"{where}: no protocol has an agreed level yet ({unresolved} disputed); import "
            "review workbooks with `cenr review import`, and adjudicate disagreements"
        )
    protocols = [r.protocol for r in reviewed]
    labels = level_indices(protocols, codebook, where)
    if args.test:
        train, train_labels = protocols, labels
        test = _read(args, args.test, codebook)
        test_labels = level_indices(test, codebook, str(args.test))
    else:
        try:
            train, train_labels, test, test_labels = _split(
                protocols, labels, codebook, args.test_size, seed
            )
        except TrainingDataError as exc:
            raise TrainingDataError(
                f"{where}: {exc} (or hold out a labelled file with --test DATA2)"
            ) from exc
    source: dict[str, Any] = {
        "reviews": {
            "jobs": jobs,
            "protocols": len(reviewed),
            "adjudicated": sum(r.basis == "adjudicated" for r in reviewed),
            "unresolved_left_out": unresolved,
        }
    }
    columns: dict[str, Any] = {
        "text": list(dict.fromkeys(name for p in protocols for name in p.fields)),
        "label": "agreed reviewer level",
        "id": None,
    }
    if args.data:
        reviewed_text = {p.content_hash() for p in protocols}
        extra = _read(args, args.data, codebook)
        kept = [p for p in extra if p.content_hash() not in reviewed_text]
        train = train + kept
        train_labels = train_labels + level_indices(kept, codebook, str(args.data))
        source["data_file"] = str(args.data)
        source["data_rows_replaced_by_reviews"] = len(extra) - len(kept)
        columns = _file_columns(args)
    baselines = sorted({r.model for r in reviewed})
    return TrainingSet(train, train_labels, test, test_labels, columns, source, baselines)
