"""``cenr run``, ``submit``, ``status``, ``export`` and ``requeue``: jobs, embedded (no
broker: the steps run in this process) or through Celery workers (``CENR_BROKER_URL``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from typing import Any

from cenr.commands.common import job_options, open_engine, warn
from cenr.report import terminal_safe
from schema.errors import ConfigError, InputFileError
from worker.settings import Settings, get_settings
from worker.submit import pipeline_context, queue_job, submit_paths


def _status(engine: Any, job_id: str | None) -> Any:
    from schema.database import session_scope
    from worker.results import job_status, latest_job_id

    with session_scope(engine) as session:
        lost_after = get_settings().lost_after
        return job_status(session, job_id or latest_job_id(session), lost_after)


def _wait(engine: Any, job_id: str, timeout: float | None, poll: float = 0.5) -> Any:
    """Poll until the job is done, with a progress bar on stderr."""
    from tqdm import tqdm

    deadline = None if timeout is None else time.monotonic() + timeout
    status = _status(engine, job_id)
    with tqdm(total=status.total, unit="doc", file=sys.stderr, desc=f"job {job_id}") as bar:
        while True:
            bar.total = status.total
            bar.n = status.done + status.failed
            bar.set_postfix(queued=status.queued, running=status.running, failed=status.failed)
            bar.refresh()
            if status.finished:
                return status
            if deadline is not None and time.monotonic() > deadline:
                raise ConfigError(
                    f"job {job_id} not finished after {timeout:.0f} s; it goes on: "
                    f"`cenr status {job_id}`"
                )
            time.sleep(poll)
            status = _status(engine, job_id)


def _print_summary(engine: Any, status: Any) -> None:
    from schema.database import session_scope
    from schema.tables import Job
    from worker.results import job_errors, job_rows

    with session_scope(engine) as session:
        rows = job_rows(session, status.job)
        errors = job_errors(session, status.job)
        job = session.get(Job, status.job)
        kept = list(((job.options if job is not None else None) or {}).get("kept", []))
    levels = Counter(r.level_code for r in rows if r.level_code is not None)
    # file names, reasons and level codes come from submitted files: printed safe
    say(
        f"job {status.job} (model {status.model}): {status.total} protocol(s) from "
        f"{status.files} file(s): {status.done} done, {status.failed} failed"
    )
    if levels:
        say("levels: " + ", ".join(f"{code}: {n}" for code, n in sorted(levels.items())))
    for path in status.exports:
        say(f"export: {path}")
    for note in kept:  # a workbook a reviewer filled in, never written over
        say(f"kept: {note}")
    if errors:
        say(f"failed ({len(errors)}):")
        for line in errors:
            say(f"  {line}")


def say(line: str) -> None:
    """Print a line that may hold untrusted text (see :func:`cenr.report.terminal_safe`)."""
    print(terminal_safe(line))


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    if not args.inbox.is_dir():
        raise InputFileError(f"{args.inbox}: not a folder (give the inbox folder to process)")
    engine = open_engine(settings)
    try:
        status = _run(settings, engine, args)
        _print_summary(engine, status)
    finally:
        engine.dispose()
    return 1 if status.failed or not status.exports else 0


def _run(settings: Settings, engine: Any, args: argparse.Namespace) -> Any:
    ctx, runner = pipeline_context(settings, engine)
    model = args.model
    if runner is not None:  # embedded: fail now if the model cannot load, not per document
        from schema.database import session_scope
        from worker.jobs import resolve_model

        with session_scope(engine) as session:
            model = resolve_model(session, args.model).name
        ctx.predictor(model)
    job_id = submit_paths(
        settings, engine, [args.inbox], model, args.out, "run", job_options(args), warn
    )
    queue_job(ctx, job_id)
    if runner is None:
        return _wait(engine, job_id, args.timeout)
    from tqdm import tqdm

    with tqdm(unit="doc", file=sys.stderr, desc=f"job {job_id}") as bar:

        def progress() -> None:
            current = _status(engine, job_id)
            bar.total, bar.n = current.total, current.done + current.failed
            bar.refresh()

        runner.on_step = progress
        runner.drain()
    return _status(engine, job_id)


def submit(args: argparse.Namespace) -> int:
    settings = get_settings()
    if not settings.broker_url:
        raise ConfigError(
            "`cenr submit` needs a queue: set CENR_BROKER_URL (redis://...) and start "
            "`cenr worker`, or process a folder here with `cenr run INBOX --out DIR`"
        )
    engine = open_engine(settings)
    try:
        ctx, _ = pipeline_context(settings, engine)
        job_id = submit_paths(
            settings, engine, args.paths, args.model, args.out, "submit", job_options(args), warn
        )
        queue_job(ctx, job_id)
        print(job_id, flush=True)
        if not args.wait:
            return 0
        status = _wait(engine, job_id, args.timeout)
        _print_summary(engine, status)
    finally:
        engine.dispose()
    return 1 if status.failed else 0


def status(args: argparse.Namespace) -> int:
    from schema.database import session_scope
    from worker.results import job_errors

    engine = open_engine(get_settings())
    try:
        current = _wait(engine, args.job, args.timeout) if args.wait else _status(engine, args.job)
        with session_scope(engine) as session:
            errors = job_errors(session, current.job)
    finally:
        engine.dispose()
    rate = f"{current.docs_per_second:.1f} docs/s" if current.docs_per_second else "-"
    left = current.progress_note
    say(
        f"job {current.job} [{current.status}] model {current.model}: {current.total} total, "
        f"{current.queued} queued, {current.running} running, {current.done} done, "
        f"{current.failed} failed; {rate} {left}".rstrip()
    )
    for line in errors[:20]:  # what failed so far, and why (file names: printed safe)
        say(f"  failed: {line}")
    if len(errors) > 20:
        print(f"  ... and {len(errors) - 20} more (`cenr export {current.job} --csv FILE`)")
    if args.json:
        print(json.dumps(current.to_dict()))
    return 0


def assign_dealt(session: Any, job_id: str, reviewers: list[str]) -> list[str]:
    """Assign the job to the portal users among the reviewers its workbooks were dealt
    to (the portal then shows it to them); returns the names that are not users."""
    from worker.review.assignments import assign_known
    from worker.review.history import cli_actor

    return assign_known(session, job_id, reviewers, cli_actor(None)) if reviewers else []


def assignment_note(job_id: str, reviewers: list[str], not_users: list[str]) -> str:
    users = [r for r in reviewers if r not in not_users]
    note = f"job {job_id} assigned in the portal to {', '.join(users) or 'nobody'}"
    if not_users:
        note += f"; not portal users (files only): {', '.join(not_users)}"
    return note


def export(args: argparse.Namespace) -> int:
    """Write a job's review workbooks, HTML bundle or CSV where asked."""
    from exporters.dealing import check_reviewers
    from exporters.package import add_workbooks
    from schema.database import session_scope
    from worker.export import Kept, export_csv, export_html, export_workbooks
    from worker.results import latest_job_id

    if not (args.xlsx or args.csv or args.html):
        raise ConfigError("say what to write: --xlsx FILE, --html FILE.zip and/or --csv FILE")
    if args.blind and not (args.xlsx or args.html):
        raise ConfigError(
            "--blind hides the model from reviewers: add --xlsx FILE or --html FILE.zip"
        )
    if args.blind and args.all_levels:
        raise ConfigError("--all-levels shows the model's weights, which --blind leaves out")
    for option, given in (
        ("--all-levels", args.all_levels), ("--per-workbook", args.per_workbook),
        ("--reviewers", args.reviewers), ("--overlap", args.overlap),
    ):  # fmt: skip
        if given and not args.xlsx:
            raise ConfigError(f"{option} is an option of the workbook: add --xlsx FILE")
    reviewers = check_reviewers((args.reviewers or "").split(","))
    if args.html and args.html.suffix.lower() != ".zip":
        raise ConfigError(f"{args.html}: the HTML bundle is a zip; name it FILE.zip")
    engine = open_engine(get_settings())
    try:
        with session_scope(engine) as session:
            job_id = args.job or latest_job_id(session)
            written = []
            kept: list[Kept] = []
            if args.csv:
                written.append(export_csv(session, job_id, args.csv))
            if args.xlsx:
                written += export_workbooks(
                    session, job_id, args.xlsx, args.per_workbook, reviewers, args.overlap,
                    args.all_levels, kept=kept, blind=args.blind,
                )  # fmt: skip
                not_users = assign_dealt(session, job_id, reviewers)
            if args.html:
                bundle = export_html(session, job_id, args.html, blind=args.blind)
                # the reviewer's package: the workbooks just written go in beside the pages
                add_workbooks(bundle, [p for p in written if p.suffix.lower() == ".xlsx"])
                written.append(bundle)
    except OSError as exc:
        raise InputFileError(f"cannot write the export: {exc}") from exc
    finally:
        engine.dispose()
    for path in written:
        say(f"export: {path}")
    for each in kept:  # a workbook a reviewer filled in, never written over
        say(f"kept: {each.note}")
    if reviewers:
        print(assignment_note(job_id, reviewers, not_users))
    return 0


def requeue(args: argparse.Namespace) -> int:
    from kombu.exceptions import OperationalError as BrokerError

    from worker.dispatch import requeue_job

    settings = get_settings()
    engine = open_engine(settings)
    try:
        ctx, runner = pipeline_context(settings, engine)
        try:
            n = requeue_job(ctx, args.job)
        except BrokerError as exc:
            raise ConfigError(f"cannot reach the broker: {exc}") from exc
        if runner is not None:
            runner.drain()
    finally:
        engine.dispose()
    print(f"job {args.job}: {n} step(s) queued again")
    return 0
