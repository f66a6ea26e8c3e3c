"""``cenr review import`` and ``cenr review agreement``: reviewers' decisions in, agreement
and the Discussion workbook out.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cenr.commands.common import open_engine
from schema.errors import InputFileError
from worker.settings import get_settings


def review_import(args: argparse.Namespace) -> int:
    """Store the levels of review (or Discussion) workbooks, each in one transaction;
    report imported/unchanged/rejected per file. A file that cannot be read is reported
    and the others still go in."""
    from schema.database import session_scope
    from schema.errors import CenrError
    from worker.reviews import import_reviews

    engine = open_engine(get_settings())
    reports, unreadable = [], 0
    try:
        for path in args.files:
            try:
                with session_scope(engine) as session:
                    report = import_reviews(session, path, args.reviewer)
            except CenrError as exc:
                if len(args.files) == 1:
                    raise
                print(f"cenr: error: {' '.join(str(exc).split())}", file=sys.stderr)
                unreadable += 1
                continue
            reports.append(report)
            print(
                f"{path}: job {report.job} ({report.kind}s): {report.imported} imported, "
                f"{report.unchanged} unchanged, {len(report.rejected)} rejected, "
                f"{report.not_reviewed} not reviewed"
            )
            for rejected in report.rejected:
                print(f"  row {rejected['row']}: {rejected['reason']}")
    finally:
        engine.dispose()
    if args.json:
        dicts = [r.to_dict() for r in reports]
        print(json.dumps(dicts[0] if len(args.files) == 1 else dicts))
    return 1 if unreadable or any(r.rejected for r in reports) else 0


def review_agreement(args: argparse.Namespace) -> int:
    """Cohen's kappa per reviewer pair, Fleiss' kappa overall, model versus each reviewer;
    the protocols they disagree on go to a Discussion workbook for adjudication."""
    from exporters.agreement_text import agreement_lines
    from exporters.discussion import write_discussion_workbook
    from schema.database import session_scope
    from schema.tables import Job
    from worker.agreement import agreement, discussion_data, require_reviews
    from worker.model_store import codebook_of
    from worker.results import latest_job_id

    engine = open_engine(get_settings())
    try:
        with session_scope(engine) as session:
            job_id = args.job or latest_job_id(session)
            report = agreement(session, job_id)
            require_reviews(report)
            target = None
            if report["disagreements"]:
                job = session.get(Job, job_id)
                assert job is not None
                target = args.discussion or Path(job.out_dir) / "discussion.xlsx"
                data = discussion_data(session, job_id, agreement_lines(report))
                try:
                    write_discussion_workbook(
                        target, data, codebook_of(session, data.model_version_id)
                    )
                except OSError as exc:
                    raise InputFileError(f"cannot write {target}: {exc}") from exc
    finally:
        engine.dispose()
    disputed, settled = len(report["disagreements"]), len(report["adjudicated"])
    print(
        f"job {report['job']}: {report['items_reviewed']} protocol(s) reviewed by "
        f"{len(report['reviewers'])} reviewer(s); {disputed} disagreement(s), "
        f"{settled} adjudicated"
    )
    for line in agreement_lines(report):
        print(f"  {line}")
    if target is not None:
        report["discussion"] = str(target)
        print(
            f"discussion: {target} ({disputed} protocol(s), {disputed - settled} to adjudicate; "
            f"fill in Adjudicated level, then `cenr review import {target}`)"
        )
    if args.json:
        print(json.dumps(report))
    return 0
