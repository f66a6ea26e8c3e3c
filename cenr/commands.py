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

from cenr.report import format_comparison, format_report
from cenr.settings import Settings, get_settings
from cenr.training_data import from_file, from_reviews, level_indices
from schema.codebook import load_codebook
from schema.errors import CenrError, ConfigError, InputFileError
from schema.protocol import Protocol


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


def train(args: argparse.Namespace) -> int:
    from classifier.inference import Predictor
    from classifier.registry import data_fingerprint, require_free_name, save_version
    from classifier.training import TrainingOptions
    from classifier.training import train as fit
    from schema.database import session_scope
    from schema.tables import ModelVersion
    from worker.model_store import registry_row, store_model_files

    if not (args.data or args.from_reviews):
        raise ConfigError("give labelled protocols (DATA) or --from-reviews JOB, or both")
    settings = get_settings()
    codebook = load_codebook(settings.codebook)
    name = args.name or f"{args.attention}-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    require_free_name(settings.models_dir, name)
    engine = _open_registry(settings)  # fail before training, not after
    try:
        data = (
            from_reviews(args, codebook, settings.seed, engine)
            if args.from_reviews
            else from_file(args, codebook, settings.seed)
        )
        with session_scope(engine) as session:
            if session.scalars(select(ModelVersion).where(ModelVersion.name == name)).first():
                raise ConfigError(
                    f"a model named {name!r} is already registered; pick another --name"
                )
        baselines = [_load(settings, baseline) for baseline in data.baselines]
        for baseline in baselines:
            if baseline.codebook.codes != codebook.codes:
                raise ConfigError(
                    f"model {baseline.name} uses levels {', '.join(baseline.codebook.codes)}, "
                    f"the codebook now has {', '.join(codebook.codes)}: the two cannot be compared"
                )

        options = TrainingOptions(
            attention=args.attention,
            epochs=args.epochs,
            embedding_init=args.embedding_init,
            embedding_dim=args.embedding_dim,
            seed=settings.seed,
            max_tokens=settings.max_tokens,
            linear=args.linear,
            linear_vectors=args.linear_vectors,
            linear_c=args.linear_c,
            heatmap=args.heatmap,
        )
        trained = fit(data.train, data.train_labels, codebook, options, progress=sys.stderr)
        predictor = Predictor(trained.model, trained.vocabulary, codebook, options.max_tokens)
        report = _evaluate(predictor, data.test, data.test_labels, settings.seed)
        report["model"] = name
        report["calibration"] = trained.calibration.to_dict()
        report["training"] = {
            "n_train": len(data.train),
            "n_test": len(data.test),
            "epochs_run": trained.epochs_run,
            "best_epoch": trained.best_epoch,
            "linear": options.linear,
            "attention_weight": trained.attention_weight,
            **data.source,
        }
        if baselines:
            report["comparison"] = compare(
                report,
                {b.name: _evaluate(b.predictor(), data.test, data.test_labels, settings.seed)
                 for b in baselines},
                [p.protocol_id for p in data.test],
            )  # fmt: skip
        fingerprint = data_fingerprint(data.train, [p.label for p in data.train])
        created = datetime.now(UTC)
        config = {
            "created_at": created.isoformat(),
            "model": trained.config.to_dict(),
            "training": vars(options),
            "columns": data.columns,
            "temperature": trained.calibration.temperature,
            "data_fingerprint": fingerprint,
            **data.source,
        }
        path = save_version(
            settings.models_dir, name, trained.model, trained.vocabulary, codebook, config, report
        )
        try:
            with session_scope(engine) as session:
                row = registry_row(path, config, report)
                session.add(row)
                session.flush()
                store_model_files(session, row, path)
        except CenrError as exc:
            raise type(exc)(
                f"model saved to {path} but not registered in the database ({exc}); "
                f"fix the database, then `cenr register {name}`"
            ) from exc
    finally:
        engine.dispose()
    title = f"model {name} ({args.attention}) saved to {path}\nheld-out evaluation"
    print(format_report(report, title))
    if "comparison" in report:
        print()
        print(format_comparison(report["comparison"]))
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    return 0


def compare(
    new: dict[str, Any], before: dict[str, dict[str, Any]], protocol_ids: list[str]
) -> dict[str, Any]:
    """The new model against the models it would replace, on the same held-out protocols."""

    def scores(name: str, role: str, report: dict[str, Any]) -> dict[str, Any]:
        return {
            "model": name,
            "role": role,
            "accuracy": report["accuracy"],
            "macro_f1": report["macro_f1"],
            "ece": report["ece"],
            "coarse_accuracy": report.get("coarse", {}).get("accuracy"),
        }

    rows = [scores(name, "before", report) for name, report in before.items()]
    rows.append(scores(new["model"], "new", new))
    return {"n": len(protocol_ids), "protocols": protocol_ids, "models": rows}


def register(args: argparse.Namespace) -> int:
    """Register a version directory (trained elsewhere, or against another database) and
    put its files in the model store, so workers on any host can fetch it."""
    from classifier.registry import load_version
    from schema.database import session_scope
    from schema.tables import ModelVersion
    from worker.model_store import registry_row, store_model_files

    settings = get_settings()
    version = load_version(settings.models_dir, args.name)  # checks files and format
    engine = _open_registry(settings)
    try:
        with session_scope(engine) as session:
            row = session.scalars(
                select(ModelVersion).where(ModelVersion.name == args.name)
            ).first()
            known = row is not None
            if row is None:
                row = registry_row(version.path, version.config, version.metrics)
                session.add(row)
                session.flush()
            added = store_model_files(session, row, version.path)
    finally:
        engine.dispose()
    if known:
        print(f"model {args.name} is already registered ({added} file(s) added to the store)")
    else:
        print(f"registered model {args.name} ({version.path}), {added} file(s) in the store")
    return 0


def _load(settings: Settings, name: str | None) -> Any:
    """The named model version (fetched from the model store when it is registered but
    not on this host), or the newest registered one."""
    from classifier.registry import load_version
    from schema.database import session_scope
    from schema.tables import ModelVersion
    from worker.jobs import resolve_model
    from worker.model_store import ensure_local

    engine = _open_registry(settings)
    try:
        with session_scope(engine) as session:
            if name is None:
                name = resolve_model(session, None).name
            elif session.scalars(select(ModelVersion.id).where(ModelVersion.name == name)).first():
                ensure_local(session, settings.models_dir, name)  # from the store if need be
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
    labels = level_indices(protocols, version.codebook, str(args.data))
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
            print(
                f"faithfulness {f.score:+.2f} nats (comprehensiveness {f.comprehensiveness:+.2f}, "
                f"sufficiency {f.sufficiency:+.2f}): {f.verdict}"
            )
        else:
            print("faithfulness not measured: the text has fewer than two tokens")
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

    settings = get_settings()
    url = settings.resolved_database_url
    if not settings.database_url:  # the embedded default: its folder may not exist yet
        settings.home.mkdir(parents=True, exist_ok=True)
    upgrade(url)
    print(f"database schema at {head_revision()}")
    return 0
