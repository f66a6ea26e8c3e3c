"""What every topic of the command line shares: the database engine, the model to
use, reports printed as text (and JSON), warnings, and the job options of ``run`` and
``submit``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from sqlalchemy import select

from cenr.report import format_report, terminal_safe
from worker.settings import Settings


def open_engine(settings: Settings) -> Any:
    from schema.database import open_database

    return open_database(settings.resolved_database_url)


def emit(report: dict[str, Any], title: str, as_json: bool) -> None:
    print(format_report(report, title))
    if as_json:
        print(json.dumps(report, ensure_ascii=False))


def warn(message: str) -> None:
    print(f"cenr: {terminal_safe(message)}", file=sys.stderr)  # messages name files


def job_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {
        "text_columns": args.text_column or [],
        "id_column": args.id_column or "",
    }
    if getattr(args, "per_workbook", None):
        options["per_workbook"] = args.per_workbook
    return options


def load_model(settings: Settings, name: str | None) -> Any:
    """The named model version (fetched from the model store when it is registered but
    not on this host), or the newest registered one."""
    from classifier.registry import load_version
    from schema.database import session_scope
    from schema.tables import ModelVersion
    from worker.jobs import resolve_model
    from worker.model_store import ensure_local

    engine = open_engine(settings)
    try:
        with session_scope(engine) as session:
            if name is None:
                name = resolve_model(session, None).name
            elif session.scalars(select(ModelVersion.id).where(ModelVersion.name == name)).first():
                ensure_local(session, settings.models_dir, name)  # from the store if need be
    finally:
        engine.dispose()
    return load_version(settings.models_dir, name)
