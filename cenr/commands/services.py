"""``cenr worker``, ``cenr watch`` and ``cenr serve``: the long-running processes."""

from __future__ import annotations

import argparse
import logging
import sys

from cenr.commands.common import job_options, open_engine
from cenr.report import TerminalFormatter
from schema.errors import ConfigError, InputFileError
from worker.settings import get_settings
from worker.submit import pipeline_context


def worker(args: argparse.Namespace) -> int:
    settings = get_settings()
    if not settings.broker_url:
        raise ConfigError("`cenr worker` needs CENR_BROKER_URL (redis://host:6379/0)")
    open_engine(settings).dispose()  # refuse to start on an unreachable or outdated database
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
    settle = settings.watch_settle_seconds if args.settle is None else args.settle
    if settle <= 0:
        raise ConfigError(f"--settle {args.settle}: must be a positive number of seconds")
    engine = open_engine(settings)
    ctx, runner = pipeline_context(settings, engine)
    watcher = Watcher(
        inbox=args.inbox.resolve(),
        ctx=ctx,
        out_root=(args.out or settings.exports_dir).resolve(),
        model=args.model,
        options=job_options(args),
        settle_seconds=settle,
        after_submit=runner.drain if runner is not None else None,
    )
    # what the watcher does with each file (submitted, filed away) is worth seeing
    # (file names in it printed safe: cenr.report.terminal_safe)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(TerminalFormatter("%(asctime)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    print(f"watching {watcher.inbox} (Ctrl-C stops)", file=sys.stderr, flush=True)
    watcher.run(interval=args.interval)
    return 0


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from cenr.portal.app import create_app

    app = create_app(get_settings())  # refuses a missing or short CENR_SECRET_KEY
    print(f"cenr portal on http://{args.host}:{args.port} (Ctrl-C stops)", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", proxy_headers=True)
    return 0
