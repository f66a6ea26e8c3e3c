"""``cenr train`` and ``cenr evaluate``: fit, calibrate and judge a model on labelled
protocols (from a file or from agreed reviews).
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

from cenr.commands.common import emit, load_model, open_engine
from cenr.report import format_comparison, format_report
from cenr.training_data import from_file, from_reviews, level_indices
from schema.codebook import Codebook, load_codebook
from schema.errors import CenrError, ConfigError
from schema.protocol import Protocol
from worker.settings import Settings, get_settings


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


def _options(args: argparse.Namespace, settings: Settings) -> Any:
    from classifier.training import TrainingOptions

    return TrainingOptions(
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


def _baselines(settings: Settings, data: Any, codebook: Codebook) -> list[Any]:
    """The models the new one is compared with (``--from-reviews``: the jobs' own)."""
    baselines = [load_model(settings, baseline) for baseline in data.baselines]
    for baseline in baselines:
        if baseline.codebook.codes != codebook.codes:
            raise ConfigError(
                f"model {baseline.name} uses levels {', '.join(baseline.codebook.codes)}, "
                f"the codebook now has {', '.join(codebook.codes)}: the two cannot be compared"
            )
    return baselines


def _report(
    name: str, trained: Any, options: Any, data: Any, codebook: Codebook, seed: int,
    baselines: list[Any],
) -> dict[str, Any]:  # fmt: skip
    """The held-out report of the trained model, with its training facts and, when there
    are baselines, the comparison on the same protocols."""
    from classifier.inference import Predictor

    predictor = Predictor(trained.model, trained.vocabulary, codebook, options.max_tokens)
    report = _evaluate(predictor, data.test, data.test_labels, seed)
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
            {b.name: _evaluate(b.predictor(), data.test, data.test_labels, seed)
             for b in baselines},
            [p.protocol_id for p in data.test],
        )  # fmt: skip
    return report


def _save_and_register(
    settings: Settings, engine: Any, name: str, trained: Any, options: Any, data: Any,
    codebook: Codebook, report: dict[str, Any],
) -> Path:  # fmt: skip
    """The model folder under CENR_HOME/models, then its row and files in the database."""
    from classifier.registry import data_fingerprint, save_version
    from schema.database import session_scope
    from worker.model_store import registry_row, store_model_files

    config = {
        "created_at": datetime.now(UTC).isoformat(),
        "model": trained.config.to_dict(),
        "training": vars(options),
        "columns": data.columns,
        "temperature": trained.calibration.temperature,
        "data_fingerprint": data_fingerprint(data.train, [p.label for p in data.train]),
        **data.source,
    }
    path: Path = save_version(
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
    return path


def train(args: argparse.Namespace) -> int:
    from classifier.registry import require_free_name
    from classifier.training import train as fit
    from schema.database import session_scope
    from schema.tables import ModelVersion

    if not (args.data or args.from_reviews):
        raise ConfigError("give labelled protocols (DATA) or --from-reviews JOB, or both")
    settings = get_settings()
    codebook = load_codebook(settings.codebook)
    name = args.name or f"{args.attention}-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    require_free_name(settings.models_dir, name)
    engine = open_engine(settings)  # fail before training, not after
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
        baselines = _baselines(settings, data, codebook)
        options = _options(args, settings)
        trained = fit(data.train, data.train_labels, codebook, options, progress=sys.stderr)
        report = _report(name, trained, options, data, codebook, settings.seed, baselines)
        path = _save_and_register(settings, engine, name, trained, options, data, codebook,
                                  report)  # fmt: skip
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


def evaluate(args: argparse.Namespace) -> int:
    from worker.extract.tables import read_protocols

    settings = get_settings()
    version = load_model(settings, args.model)
    columns = version.config.get("columns", {})
    text_columns = args.text_column or columns.get("text")
    label_column = args.label_column or columns.get("label")
    id_column = args.id_column or columns.get("id")
    protocols = read_protocols(args.data, text_columns, label_column, id_column)
    labels = level_indices(protocols, version.codebook, str(args.data))
    report = _evaluate(version.predictor(), protocols, labels, settings.seed)
    report["model"] = version.name
    emit(report, f"model {version.name} on {args.data}", args.json)
    return 0
