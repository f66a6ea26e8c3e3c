"""What each ``cenr`` sub-command does, as plain functions of parsed arguments.

Each returns the process exit status; user errors are raised as
:class:`schema.errors.CenrError` and turned into one line by :mod:`cenr.cli`.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from cenr.report import format_report
from cenr.settings import Settings, get_settings
from schema.codebook import Codebook, load_codebook
from schema.errors import CenrError, ConfigError, InputFileError, TrainingDataError
from schema.protocol import Protocol


def _labels(protocols: list[Protocol], codebook: Codebook, path: Path) -> list[int]:
    labels = []
    for protocol in protocols:
        try:
            labels.append(codebook.index_of(protocol.label))
        except CenrError as exc:
            raise type(exc)(f"{path}: protocol {protocol.protocol_id}: {exc}") from exc
    return labels


def _emit(report: dict[str, Any], title: str, as_json: bool) -> None:
    print(format_report(report, title))
    if as_json:
        print(json.dumps(report, ensure_ascii=False))


def _open_registry(settings: Settings) -> Any:
    from schema.database import open_database

    return open_database(settings.resolved_database_url)


def _evaluate(
    predictor: Any, protocols: list[Protocol], labels: list[int], seed: int
) -> dict[str, Any]:
    """Held-out report for ``predictor`` with faithfulness and tokens cut."""
    from classifier.evaluation import evaluation_report
    from classifier.faithfulness import annotate, summarise

    predictions = annotate(predictor, protocols, seed=seed)
    probabilities = np.stack([p.probabilities for p in predictions])
    report = evaluation_report(np.asarray(labels), probabilities, predictor.codebook)
    report["faithfulness"] = summarise(predictions)
    report["tokens_cut"] = int(sum(p.tokens_cut for p in predictions))
    return report


def _held_out(
    args: argparse.Namespace,
    protocols: list[Protocol],
    labels: list[int],
    codebook: Codebook,
    seed: int,
) -> tuple[list[Protocol], list[int], list[Protocol], list[int]]:
    """Training and held-out protocols: ``--test DATA2``, or a stratified ``--test-size``."""
    from classifier.training import check_training_labels, stratified_split
    from worker.extract.tables import read_protocols

    if args.test:
        test = read_protocols(args.test, args.text_column, args.label_column, args.id_column)
        return protocols, labels, test, _labels(test, codebook, args.test)
    if args.test_size <= 0:
        raise TrainingDataError(
            "give --test DATA or a --test-size above 0: a model needs held-out data"
        )
    check_training_labels(labels, codebook, min_per_class=3)
    kept, held = stratified_split(labels, args.test_size, seed, "test")
    return (
        [protocols[i] for i in kept],
        [labels[i] for i in kept],
        [protocols[i] for i in held],
        [labels[i] for i in held],
    )


def train(args: argparse.Namespace) -> int:
    from classifier.inference import Predictor
    from classifier.registry import data_fingerprint, require_free_name, save_version
    from classifier.training import TrainingOptions
    from classifier.training import train as fit
    from schema.database import session_scope
    from schema.tables import ModelVersion
    from worker.extract.tables import read_protocols

    settings = get_settings()
    codebook = load_codebook(settings.codebook)
    name = args.name or f"{args.attention}-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    require_free_name(settings.models_dir, name)
    protocols = read_protocols(args.data, args.text_column, args.label_column, args.id_column)
    labels = _labels(protocols, codebook, args.data)
    protocols, labels, test_protocols, test_labels = _held_out(
        args, protocols, labels, codebook, settings.seed
    )
    engine = _open_registry(settings)  # fail before training, not after
    with session_scope(engine) as session:
        if session.scalars(select(ModelVersion).where(ModelVersion.name == name)).first():
            raise ConfigError(f"a model named {name!r} is already registered; pick another --name")

    options = TrainingOptions(
        attention=args.attention,
        epochs=args.epochs,
        seed=settings.seed,
        max_tokens=settings.max_tokens,
    )
    trained = fit(protocols, labels, codebook, options, progress=sys.stderr)
    predictor = Predictor(trained.model, trained.vocabulary, codebook, options.max_tokens)
    report = _evaluate(predictor, test_protocols, test_labels, settings.seed)
    report["model"] = name
    report["calibration"] = {
        "temperature": trained.temperature,
        "ece_before": trained.ece_before,
        "ece_after": trained.ece_after,
    }
    report["training"] = {
        "n_train": len(protocols),
        "n_test": len(test_protocols),
        "epochs_run": trained.epochs_run,
        "best_epoch": trained.best_epoch,
    }
    fingerprint = data_fingerprint(protocols, [p.label for p in protocols])
    created = datetime.now(UTC)
    config = {
        "created_at": created.isoformat(),
        "model": trained.config.to_dict(),
        "training": vars(options),
        "columns": {
            "text": list(args.text_column),
            "label": args.label_column,
            "id": args.id_column,
        },
        "temperature": trained.temperature,
        "data_fingerprint": fingerprint,
        "data_file": str(args.data),
    }
    path = save_version(
        settings.models_dir, name, trained.model, trained.vocabulary, codebook, config, report
    )
    try:
        with session_scope(engine) as session:
            session.add(registry_row(path, config, report))
    except CenrError as exc:
        raise type(exc)(
            f"model saved to {path} but not registered in the database ({exc}); "
            f"fix the database, then `cenr register {name}`"
        ) from exc
    finally:
        engine.dispose()
    _emit(
        report, f"model {name} ({args.attention}) saved to {path}\nheld-out evaluation", args.json
    )
    return 0


def registry_row(path: Path, config: dict[str, Any], metrics: dict[str, Any]) -> Any:
    """The ``model_versions`` row of a saved version directory."""
    from schema.tables import ModelVersion

    return ModelVersion(
        name=path.name,
        attention=config["model"]["attention"],
        created_at=datetime.fromisoformat(config["created_at"]),
        path=str(path),
        data_fingerprint=config["data_fingerprint"],
        n_training=int(metrics.get("training", {}).get("n_train", 0)),
        accuracy=metrics.get("accuracy"),
        macro_f1=metrics.get("macro_f1"),
        temperature=float(config["temperature"]),
        metrics=metrics,
    )


def register(args: argparse.Namespace) -> int:
    """Register a version directory (trained elsewhere, or against another database)."""
    from classifier.registry import load_version
    from schema.database import session_scope
    from schema.tables import ModelVersion

    settings = get_settings()
    version = load_version(settings.models_dir, args.name)  # checks files and format
    engine = _open_registry(settings)
    try:
        with session_scope(engine) as session:
            if session.scalars(select(ModelVersion).where(ModelVersion.name == args.name)).first():
                print(f"model {args.name} is already registered")
                return 0
            session.add(registry_row(version.path, version.config, version.metrics))
    finally:
        engine.dispose()
    print(f"registered model {args.name} ({version.path})")
    return 0


def _load(settings: Settings, name: str | None) -> Any:
    """The named model version from disk, or the newest registered one."""
    from classifier.registry import load_version
    from schema.database import session_scope
    from worker.jobs import resolve_model

    if name is None:
        engine = _open_registry(settings)
        try:
            with session_scope(engine) as session:
                name = resolve_model(session, None).name
        finally:
            engine.dispose()
    return load_version(settings.models_dir, name)


def evaluate(args: argparse.Namespace) -> int:
    from worker.extract.tables import read_protocols

    settings = get_settings()
    version = _load(settings, args.model)
    columns = version.config.get("columns", {})
    text_columns = args.text_column or columns.get("text")
    label_column = args.label_column or columns.get("label")
    id_column = args.id_column or columns.get("id")
    protocols = read_protocols(args.data, text_columns, label_column, id_column)
    labels = _labels(protocols, version.codebook, args.data)
    report = _evaluate(version.predictor(), protocols, labels, settings.seed)
    report["model"] = version.name
    _emit(report, f"model {version.name} on {args.data}", args.json)
    return 0


def _protocols_for_predict(target: str, version: Any) -> list[Protocol]:
    from worker.extract.tables import TABLE_SUFFIXES, read_protocols

    path = Path(target)
    if path.suffix.lower() in TABLE_SUFFIXES and path.is_file():
        columns = version.config.get("columns", {})
        return read_protocols(path, columns.get("text", []), None, columns.get("id"))
    if path.suffix.lower() in (".txt", ".md") or path.is_file():
        try:
            text = path.read_text("utf-8-sig")
        except FileNotFoundError:
            raise InputFileError(f"{path}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputFileError(f"{path}: cannot read as UTF-8 text: {exc}") from exc
        return [Protocol(protocol_id=path.name, fields={"text": text})]
    return [Protocol(protocol_id="(text)", fields={"text": target})]


def predict(args: argparse.Namespace) -> int:
    from classifier.faithfulness import annotate
    from exporters.terminal import highlight

    settings = get_settings()
    version = _load(settings, args.model)
    protocols = _protocols_for_predict(args.target, version)
    if not any(text.strip() for p in protocols for text in p.fields.values()):
        raise InputFileError(f"{args.target}: no text to classify")
    colour = args.colour == "always" or (args.colour == "auto" and sys.stdout.isatty())
    for protocol, prediction in zip(
        protocols, annotate(version.predictor(), protocols), strict=True
    ):
        print(
            f"{protocol.protocol_id}: level {prediction.level_code} ({prediction.level_name}), "
            f"confidence {prediction.confidence:.2f}, model {version.name}"
        )
        if prediction.faithfulness is not None:
            f = prediction.faithfulness
            verdict = "heat-map is informative" if f.score > 0.02 else "heat-map is weak evidence"
            print(
                f"faithfulness {f.score:+.3f} (erasing top {f.k} tokens: -{f.top_drop:.3f}, "
                f"random {f.k}: -{f.random_drop:.3f}): {verdict}"
            )
        if prediction.tokens_cut:
            print(f"note: {prediction.tokens_cut} tokens past the model's limit were not scored")
        strongest = ", ".join(f"{t.surface} {w:.3f}" for t, w in prediction.strongest_tokens(10))
        print(f"strongest tokens: {strongest}")
        print()
        print(highlight(protocol.fields, prediction.tokens, prediction.weights, colour=colour))
        print()
    return 0


def models(args: argparse.Namespace) -> int:
    from schema.database import session_scope
    from schema.tables import ModelVersion

    settings = get_settings()
    engine = _open_registry(settings)
    with session_scope(engine) as session:
        rows = list(session.scalars(select(ModelVersion).order_by(ModelVersion.created_at)))
    engine.dispose()
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "name": r.name,
                        "attention": r.attention,
                        "created_at": r.created_at.isoformat(),
                        "accuracy": r.accuracy,
                        "macro_f1": r.macro_f1,
                        "path": r.path,
                        "on_disk": Path(r.path).is_dir(),
                    }
                    for r in rows
                ]
            )
        )
        return 0
    if not rows:
        print("no models registered; train one with `cenr train` (or `make demo`)")
        return 0
    print(f"{'name':<32} {'attention':<10} {'created (UTC)':<17} {'acc':>6} {'F1':>6}  files")
    for r in rows:
        on_disk = "ok" if Path(r.path).is_dir() else "MISSING"
        print(
            f"{r.name:<32} {r.attention:<10} {r.created_at:%Y-%m-%d %H:%M} "
            f"{r.accuracy or 0:>6.3f} {r.macro_f1 or 0:>6.3f}  {on_disk}"
        )
    return 0


def db_upgrade(args: argparse.Namespace) -> int:
    from schema.database import head_revision, upgrade

    url = get_settings().resolved_database_url
    upgrade(url)
    print(f"database schema at {head_revision()}")
    return 0
