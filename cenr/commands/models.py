"""``cenr models``, ``cenr register`` and ``cenr predict``: the registered model versions
and one document classified on the spot.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select

from cenr.commands.common import load_model, open_engine
from schema.errors import InputFileError
from schema.protocol import Protocol
from worker.settings import get_settings


def register(args: argparse.Namespace) -> int:
    """Register a version directory (trained elsewhere, or against another database) and
    put its files in the model store, so workers on any host can fetch it."""
    from classifier.registry import load_version
    from schema.database import session_scope
    from schema.tables import ModelVersion
    from worker.model_store import registry_row, store_model_files

    settings = get_settings()
    version = load_version(settings.models_dir, args.name)  # checks files and format
    engine = open_engine(settings)
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


def models(args: argparse.Namespace) -> int:
    from schema.database import session_scope
    from schema.tables import ModelVersion

    settings = get_settings()
    engine = open_engine(settings)
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
    version = load_model(settings, args.model)
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
        if prediction.evidence is not None:
            print(f"evidence by field: {prediction.evidence.describe()}")
            for name, passage in prediction.evidence.quoted():
                print(f"  {name}: {passage}")
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
