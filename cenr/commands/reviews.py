"""``cenr review``: reviewers' decisions in (``import``, ``remove``) and their history,
agreement and the Discussion workbook, suspect labels, what to review next.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cenr.commands.common import open_engine
from cenr.commands.jobs import assign_dealt, assignment_note
from cenr.report import terminal_safe
from schema.errors import InputFileError
from worker.settings import get_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def review_import(args: argparse.Namespace) -> int:
    """Store the levels of review (or Discussion) workbooks, each in one transaction;
    report imported/unchanged/rejected per file. A file that cannot be read is reported
    and the others still go in."""
    from schema.database import session_scope
    from schema.errors import CenrError
    from worker.review.history import cli_actor
    from worker.review.imports import import_reviews

    actor = cli_actor(args.reviewer)
    engine = open_engine(get_settings())
    reports, unreadable = [], 0
    try:
        for path in args.files:
            try:
                with session_scope(engine) as session:
                    report = import_reviews(session, path, args.reviewer, actor=actor)
            except CenrError as exc:
                if len(args.files) == 1:
                    raise
                print(f"cenr: error: {terminal_safe(' '.join(str(exc).split()))}", file=sys.stderr)
                unreadable += 1
                continue
            reports.append(report)
            # the file's name and the reasons (quoting the cells) printed safe
            print(terminal_safe(
                f"{report.file}: job {report.job} ({report.kind}s): {report.imported} imported, "
                f"{report.unchanged} unchanged, {len(report.rejected)} rejected, "
                f"{report.not_reviewed} not reviewed"
            ))  # fmt: skip
            for rejected in report.rejected:
                print(terminal_safe(f"  row {rejected['row']}: {rejected['reason']}"))
    finally:
        engine.dispose()
    if args.json:
        dicts = [r.to_dict() for r in reports]
        print(json.dumps(dicts[0] if len(args.files) == 1 else dicts))
    return 1 if unreadable or any(r.rejected for r in reports) else 0


def review_remove(args: argparse.Namespace) -> int:
    """Remove a reviewer's level of a protocol; the label history records who did."""
    from schema.database import session_scope
    from worker.review.history import as_dict, cli_actor, history_line, remove_review

    engine = open_engine(get_settings())
    try:
        with session_scope(engine) as session:
            events = remove_review(
                session, args.job, args.protocol, args.reviewer, cli_actor(args.reviewer), "cli"
            )
            session.flush()  # the events' ids and times, for the lines below
            removed = [as_dict(event) for event in events]
    finally:
        engine.dispose()
    for event in removed:
        print(history_line(event))
    if args.json:
        print(json.dumps({"events": removed}))
    return 0


def review_history(args: argparse.Namespace) -> int:
    """Every change of a stored level, oldest first: who, when, from what to what."""
    from schema.database import session_scope
    from worker.review.history import history_line, label_history

    engine = open_engine(get_settings())
    try:
        with session_scope(engine) as session:
            events = label_history(session, args.job, args.protocol)
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps({"job": args.job, "protocol": args.protocol, "events": events}))
        return 0
    for event in events:
        print(history_line(event))
    if not events:
        print("no label events" + (f" for protocol {args.protocol}" if args.protocol else ""))
    return 0


def review_agreement(args: argparse.Namespace) -> int:
    """Cohen's kappa per reviewer pair, Fleiss' kappa overall, model versus each reviewer;
    the protocols they disagree on go to a Discussion workbook for adjudication."""
    from exporters.agreement_text import agreement_lines
    from exporters.discussion import write_discussion_workbook
    from schema.database import session_scope
    from schema.tables import Job
    from worker.model_store import codebook_of
    from worker.results import latest_job_id
    from worker.review.agreement import agreement, discussion_data, require_reviews

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


def _job_ids(session: Session, given: list[str]) -> list[str]:
    from worker.results import latest_job_id

    return list(dict.fromkeys(given)) or [latest_job_id(session)]


def review_issues(args: argparse.Namespace) -> int:
    """Suspect labels: cross-validate the jobs' reviewed protocols, score every agreed
    label with cleanlab (confident learning, CROWDLAB), store the run, print it."""
    from exporters.label_checks import label_check_lines, write_label_check_workbook
    from schema.database import session_scope
    from worker.review.label_checks import check_labels

    if args.folds < 2:
        raise InputFileError(f"--folds must be at least 2, not {args.folds}")
    engine = open_engine(get_settings())
    try:
        with session_scope(engine) as session:
            job_ids = _job_ids(session, args.jobs)
            report = check_labels(session, job_ids, args.folds, args.epochs)
    finally:
        engine.dispose()
    for line in label_check_lines(report, limit=args.limit):
        print(line)
    if args.xlsx:
        try:
            write_label_check_workbook(args.xlsx, report)
        except OSError as exc:
            raise InputFileError(f"cannot write {args.xlsx}: {exc}") from exc
        print(f"workbook: {args.xlsx}")
    if args.json:
        print(json.dumps(report.to_dict()))
    return 0


def review_next(args: argparse.Namespace) -> int:
    """The protocols most worth a reviewer's time, as review workbooks."""
    from exporters.dealing import check_reviewers
    from schema.database import session_scope
    from worker.export import Kept
    from worker.review.next_round import write_next

    if args.n < 1:
        raise InputFileError(f"--n must be at least 1, not {args.n}")
    reviewers = check_reviewers(args.reviewers.split(",")) if args.reviewers else []
    engine = open_engine(get_settings())
    try:
        with session_scope(engine) as session:
            job_ids = _job_ids(session, args.jobs)
            kept: list[Kept] = []  # workbooks holding levels never imported: not written over
            try:
                written = write_next(
                    session, job_ids, args.n, args.xlsx, reviewers, args.overlap, kept
                )
            except OSError as exc:
                raise InputFileError(f"cannot write {args.xlsx}: {exc}") from exc
            not_users = [assign_dealt(session, job_id, reviewers) for job_id in job_ids]
    finally:
        engine.dispose()
    if not written:
        raise InputFileError(f"job(s) {', '.join(job_ids)} have no classified protocols to review")
    for path, n in written:
        print(f"{path}: {n} protocol(s), highest priority first")
    for each in kept:
        print(terminal_safe(f"kept: {each.note}"))
    if reviewers:
        for job_id, missing in zip(job_ids, not_users, strict=True):
            print(assignment_note(job_id, reviewers, missing))
    print(
        f"fill in Reviewer level, then `cenr review import {' '.join(str(p) for p, _ in written)}`"
    )
    if args.json:
        print(json.dumps({"workbooks": [{"path": str(p), "protocols": n} for p, n in written]}))
    return 0


def review_assign(args: argparse.Namespace) -> int:
    """Assign a job to reviewers (or take it from them): the portal shows a reviewer only
    the jobs assigned to them."""
    from schema.database import session_scope
    from worker.review.assignments import assign
    from worker.review.history import cli_actor

    engine = open_engine(get_settings())
    try:
        with session_scope(engine) as session:
            now = assign(session, args.job, args.users, cli_actor(None), remove=args.remove)
    finally:
        engine.dispose()
    print(f"job {args.job}: assigned to {', '.join(now) or 'nobody'}")
    return 0
