"""The service's sub-commands: ``run``, ``submit``, ``status``, ``worker`` and ``watch``.

With ``CENR_BROKER_URL`` unset, work runs in this process (:class:`LocalRunner`); with it
set, the same pipeline steps go through Celery to ``cenr worker`` processes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from cenr.settings import Settings, get_settings
from schema.errors import ConfigError, InputFileError


def _engine(settings: Settings) -> Any:
    from schema.database import open_database

    return open_database(settings.resolved_database_url)


def _options(args: argparse.Namespace) -> dict[str, Any]:
    return {"text_columns": args.text_column or [], "id_column": args.id_column or ""}


def pipeline_context(settings: Settings, engine: Any) -> tuple[Any, Any]:
    """The pipeline context and, when embedded, the local runner that executes steps."""
    from worker.pipeline import Context, LocalRunner

    if settings.broker_url:
        from worker.tasks import CeleryQueue

        return Context(settings, engine, CeleryQueue()), None
    runner = LocalRunner()
    ctx = Context(settings, engine, runner)
    runner.ctx = ctx
    return ctx, runner


def submit_paths(
    settings: Settings,
    engine: Any,
    paths: list[Path],
    model: str | None,
    out: Path | None,
    origin: str,
    options: dict[str, Any],
) -> str:
    from schema.database import session_scope
    from worker.backpressure import check_capacity
    from worker.jobs import create_job, gather, resolve_model

    submissions, hidden = gather(paths)
    if hidden:
        shown = ", ".join(hidden[:10]) + (" ..." if len(hidden) > 10 else "")
        print(f"cenr: skipped {len(hidden)} hidden file(s): {shown}", file=sys.stderr)
    if not submissions:
        raise InputFileError(f"{', '.join(map(str, paths))}: no files to process")
    with session_scope(engine) as session:
        check_capacity(session, settings)
        version = resolve_model(session, model)
        job = create_job(
            session, submissions, version, Path(), origin, options, settings.max_file_bytes
        )
        job.out_dir = str((out or settings.exports_dir / job.id).resolve())
        return job.id


def queue_job(ctx: Any, job_id: str) -> None:
    """Queue a saved job; a broker that cannot be reached is a one-line error."""
    from kombu.exceptions import OperationalError as BrokerError

    from worker.pipeline import start_job

    try:
        start_job(ctx, job_id)
    except BrokerError as exc:
        raise ConfigError(
            f"cannot reach the broker ({exc}); job {job_id} is saved but not queued: "
            f"run `cenr requeue {job_id}` once the broker is back"
        ) from exc


def _status(engine: Any, job_id: str | None) -> Any:
    from schema.database import session_scope
    from worker.results import job_status, latest_job_id

    with session_scope(engine) as session:
        return job_status(session, job_id or latest_job_id(session))


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
    from worker.results import job_errors, job_rows

    with session_scope(engine) as session:
        rows = job_rows(session, status.job)
        errors = job_errors(session, status.job)
    levels = Counter(r.level_code for r in rows if r.level_code is not None)
    print(
        f"job {status.job} (model {status.model}): {status.total} protocol(s) from "
        f"{status.files} file(s): {status.done} done, {status.failed} failed"
    )
    if levels:
        print("levels: " + ", ".join(f"{code}: {n}" for code, n in sorted(levels.items())))
    for path in status.exports:
        print(f"export: {path}")
    if errors:
        print(f"failed ({len(errors)}):")
        for line in errors:
            print(f"  {line}")


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    if not args.inbox.is_dir():
        raise InputFileError(f"{args.inbox}: not a folder (give the inbox folder to process)")
    engine = _engine(settings)
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
    job_id = submit_paths(settings, engine, [args.inbox], model, args.out, "run", _options(args))
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
    engine = _engine(settings)
    try:
        ctx, _ = pipeline_context(settings, engine)
        job_id = submit_paths(
            settings, engine, args.paths, args.model, args.out, "submit", _options(args)
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

    engine = _engine(get_settings())
    try:
        current = _wait(engine, args.job, args.timeout) if args.wait else _status(engine, args.job)
        with session_scope(engine) as session:
            errors = job_errors(session, current.job)
    finally:
        engine.dispose()
    rate = f"{current.docs_per_second:.1f} docs/s" if current.docs_per_second else "-"
    left = f"{current.seconds_left:.0f} s left" if current.seconds_left is not None else ""
    print(
        f"job {current.job} [{current.status}] model {current.model}: {current.total} total, "
        f"{current.queued} queued, {current.running} running, {current.done} done, "
        f"{current.failed} failed; {rate} {left}".rstrip()
    )
    for line in errors[:20]:  # what failed so far, and why
        print(f"  failed: {line}")
    if len(errors) > 20:
        print(f"  ... and {len(errors) - 20} more (`cenr export {current.job} --csv FILE`)")
    if args.json:
        print(json.dumps(current.to_dict()))
    return 0


def export(args: argparse.Namespace) -> int:
    """Write a job's review workbook, HTML bundle or CSV where asked."""
    from schema.database import session_scope
    from worker.pipeline import export_csv, export_html, export_workbook
    from worker.results import latest_job_id

    if not (args.xlsx or args.csv or args.html):
        raise ConfigError("say what to write: --xlsx FILE, --html FILE.zip and/or --csv FILE")
    if args.all_levels and not args.xlsx:
        raise ConfigError("--all-levels is an option of the workbook: add --xlsx FILE")
    if args.html and args.html.suffix.lower() != ".zip":
        raise ConfigError(f"{args.html}: the HTML bundle is a zip; name it FILE.zip")
    engine = _engine(get_settings())
    try:
        with session_scope(engine) as session:
            job_id = args.job or latest_job_id(session)
            written = []
            if args.csv:
                written.append(export_csv(session, job_id, args.csv))
            if args.xlsx:
                written.append(export_workbook(session, job_id, args.xlsx, args.all_levels))
            if args.html:
                written.append(export_html(session, job_id, args.html))
    except OSError as exc:
        raise InputFileError(f"cannot write the export: {exc}") from exc
    finally:
        engine.dispose()
    for path in written:
        print(f"export: {path}")
    return 0


def review_import(args: argparse.Namespace) -> int:
    """Store the levels of a review (or Discussion) workbook; report imported/unchanged/
    rejected."""
    from schema.database import session_scope
    from worker.reviews import import_reviews

    engine = _engine(get_settings())
    try:
        with session_scope(engine) as session:
            report = import_reviews(session, args.file, args.reviewer)
    finally:
        engine.dispose()
    print(
        f"{args.file}: job {report.job} ({report.kind}s): {report.imported} imported, "
        f"{report.unchanged} "
        f"unchanged, {len(report.rejected)} rejected, {report.not_reviewed} not reviewed"
    )
    for rejected in report.rejected:
        print(f"  row {rejected['row']}: {rejected['reason']}")
    if args.json:
        print(json.dumps(report.to_dict()))
    return 1 if report.rejected else 0


def review_agreement(args: argparse.Namespace) -> int:
    """Cohen's kappa per reviewer pair, Fleiss' kappa overall, model versus each reviewer;
    the protocols they disagree on go to a Discussion workbook for adjudication."""
    from exporters.discussion import write_discussion_workbook
    from schema.database import session_scope
    from schema.tables import Job
    from worker.agreement import agreement, discussion_data
    from worker.model_store import codebook_of
    from worker.results import latest_job_id

    def show(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    engine = _engine(get_settings())
    try:
        with session_scope(engine) as session:
            job_id = args.job or latest_job_id(session)
            report = agreement(session, job_id)
            target = None
            if report["disagreements"]:
                job = session.get(Job, job_id)
                assert job is not None
                target = args.discussion or Path(job.out_dir) / "discussion.xlsx"
                data = discussion_data(session, job_id)
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
    for pair in report["pairs"]:
        a, b = pair["reviewers"]
        print(f"  Cohen's kappa {a} / {b}: {show(pair['cohen_kappa'])} (n={pair['n']})")
    print(
        f"  Fleiss' kappa, all reviewers: {show(report['fleiss_kappa'])} (n={report['fleiss_n']})"
    )
    for row in report["model_vs_reviewer"]:
        print(
            f"  model / {row['reviewer']}: agreement {show(row['accuracy'])}, "
            f"Cohen's kappa {show(row['cohen_kappa'])} (n={row['n']})"
        )
    if target is not None:
        report["discussion"] = str(target)
        print(
            f"discussion: {target} ({disputed} protocol(s), {disputed - settled} to adjudicate; "
            f"fill in Adjudicated level, then `cenr review import {target}`)"
        )
    if args.json:
        print(json.dumps(report))
    return 0


def requeue(args: argparse.Namespace) -> int:
    from kombu.exceptions import OperationalError as BrokerError

    from worker.pipeline import requeue_job

    settings = get_settings()
    engine = _engine(settings)
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


def worker(args: argparse.Namespace) -> int:
    settings = get_settings()
    if not settings.broker_url:
        raise ConfigError("`cenr worker` needs CENR_BROKER_URL (redis://host:6379/0)")
    _engine(settings).dispose()  # refuse to start on an unreachable or outdated database
    queues = args.queues.split(",")
    unknown = sorted(set(queues) - {"extract", "classify", "export"})
    if unknown:
        raise ConfigError(f"unknown queue(s) {', '.join(unknown)}; use extract, classify, export")
    from worker import tasks

    tasks.PRELOAD = "classify" in queues
    app = tasks.app
    argv = [
        "worker", "--queues", ",".join(queues),
        "--concurrency", str(args.concurrency or settings.worker_concurrency),
        "--pool", args.pool, "--loglevel", args.loglevel, "--hostname", args.hostname,
        "--without-gossip", "--without-mingle",
    ]  # fmt: skip
    app.worker_main(argv)
    return 0


def watch(args: argparse.Namespace) -> int:
    from worker.watch import Watcher

    settings = get_settings()
    if not args.inbox.is_dir():
        raise InputFileError(f"{args.inbox}: not a folder")
    engine = _engine(settings)
    ctx, runner = pipeline_context(settings, engine)
    watcher = Watcher(
        inbox=args.inbox.resolve(),
        ctx=ctx,
        out_root=(args.out or settings.exports_dir).resolve(),
        model=args.model,
        options=_options(args),
        settle_seconds=args.settle,
        after_submit=runner.drain if runner is not None else None,
    )
    print(f"watching {watcher.inbox} (Ctrl-C stops)", file=sys.stderr, flush=True)
    watcher.run(interval=args.interval)
    return 0
