"""Submitting work: a job recorded for files, queued on the broker or run in-process.

Shared by every way in (``cenr run``/``submit``, the portal's uploads, the inbox
watcher's caller); stage: before extract. May touch the jobs and files tables through
:mod:`worker.jobs` and the dispatcher; it knows no stage's work.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from schema.errors import ConfigError, InputFileError
from worker.settings import Settings


def pipeline_context(settings: Settings, engine: Any) -> tuple[Any, Any]:
    """The pipeline context and, when embedded, the local runner that executes steps."""
    from worker.context import Context
    from worker.steps import LocalRunner

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
    on_hidden: Callable[[str], None] | None = None,
) -> str:
    """Record a job for ``paths`` (files, folders) and return its id; nothing is queued
    yet (:func:`queue_job`). Hidden files are left out, and ``on_hidden`` hears which."""
    from schema.database import session_scope
    from worker.backpressure import check_capacity
    from worker.jobs import create_job, gather, resolve_model

    submissions, hidden = gather(paths)
    if hidden:
        shown = ", ".join(hidden[:10]) + (" ..." if len(hidden) > 10 else "")
        if on_hidden is not None:
            on_hidden(f"skipped {len(hidden)} hidden file(s): {shown}")
    if not submissions:
        raise InputFileError(f"{', '.join(map(str, paths))}: no files to process")
    with session_scope(engine) as session:
        check_capacity(session, settings)
        version = resolve_model(session, model)
        job = create_job(
            session, submissions, version, Path(), origin, options, settings.size_limits
        )
        job.out_dir = str((out or settings.exports_dir / job.id).resolve())
        return job.id


def queue_job(ctx: Any, job_id: str) -> None:
    """Queue a saved job; a broker that cannot be reached is a one-line error."""
    from kombu.exceptions import OperationalError as BrokerError

    from worker.dispatch import start_job

    try:
        start_job(ctx, job_id)
    except BrokerError as exc:
        raise ConfigError(
            f"cannot reach the broker ({exc}); job {job_id} is saved but not queued: "
            f"run `cenr requeue {job_id}` once the broker is back"
        ) from exc
