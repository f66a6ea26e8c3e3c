"""Celery: three thin tasks that take ids, and the dispatcher that queues them.

* A task is a step of :mod:`worker.steps` run on a worker's context; the steps are
  idempotent, so a task delivered twice writes nothing twice.
* A worker that cannot load a job's model refuses classification: it logs why, stops
  consuming the ``classify`` queue and sends the task back for the other workers.
* A stall sweeper in every worker queues again the jobs whose messages a broker lost
  (:mod:`worker.sweeper`).
* A step that fails for good has its failure recorded, so the job still ends.

Importing this module does not import TensorFlow; the model loads on a worker's first
classification task, once per worker process.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from billiard.exceptions import SoftTimeLimitExceeded
from celery import Task, signals

from schema.errors import ModelUnavailable, StepTimedOut
from worker.celery_app import RETRY, app
from worker.settings import HARD_LIMIT_MARGIN, get_settings

log = logging.getLogger(__name__)

_context: Any = None
_context_lock = threading.Lock()
_stop_sweeping = threading.Event()
PRELOAD = False  # set by `cenr worker` when it consumes the classify queue


def context() -> Any:
    """This worker process's pipeline context, created on first use (after any fork)."""
    global _context
    with _context_lock:
        if _context is None:
            from schema.database import open_database
            from worker.context import Context

            settings = get_settings()
            engine = open_database(settings.resolved_database_url)
            _context = Context(settings, engine, CeleryQueue(), others_may_serve=True)
        return _context


@signals.worker_process_init.connect
def _child_started(**_: Any) -> None:
    """A pool process: its own database connections, and the newest model loaded before
    it takes a task, so no task spends its time limit (seconds: tasks are small) on it."""
    global _context
    if _context is not None:  # inherited from the parent: its sockets are the parent's
        _context.engine.dispose(close=False)
        _context = None
    if PRELOAD:
        _preload()


def _preload() -> None:
    from schema.database import session_scope
    from worker.jobs import resolve_model

    ctx = context()
    try:
        with session_scope(ctx.engine) as session:
            name = resolve_model(session, None).name
        ctx.predictor(name)
        log.info("model %s loaded", name)
    except Exception as exc:  # the first task that needs it reports it properly
        log.warning("could not preload the newest model: %s", exc)


@signals.worker_ready.connect
def _start_sweeper(**_: Any) -> None:
    from worker.sweeper import start_sweeping

    start_sweeping(context(), _stop_sweeping)


@signals.worker_shutdown.connect
def _stop_sweeper(**_: Any) -> None:
    _stop_sweeping.set()


class Step(Task):
    """A pipeline step: retried while the database or broker is away, and when it fails
    for good its failure is recorded so the job still ends (see :data:`worker.steps.STEPS`)."""

    step = ""

    def run(self, *args: Any) -> None:
        from worker.steps import STEPS

        try:
            STEPS[self.step][0](context(), *args)
        except ModelUnavailable as exc:
            self._refuse(exc)

    def _refuse(self, exc: ModelUnavailable) -> None:
        """Stop taking this queue's tasks here and hand this one back to the others."""
        hostname = self.request.hostname
        log.error(
            "worker %s refuses %s tasks: %s; fix its model folder (CENR_HOME/models) and "
            "restart it; the other workers carry on",
            hostname, self.step, exc,
        )  # fmt: skip
        try:
            self.app.control.cancel_consumer(
                self.step, destination=[hostname], reply=True, timeout=5
            )
        except Exception:
            log.warning("could not stop consuming %s on %s", self.step, hostname, exc_info=True)
        raise self.retry(exc=exc, countdown=0)

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        from worker.steps import STEPS

        if isinstance(exc, SoftTimeLimitExceeded):
            settings = context().settings
            limit, name = (
                (settings.export_time_limit, "CENR_EXPORT_TIME_LIMIT") if self.step == "export"
                else (settings.task_time_limit, "CENR_TASK_TIME_LIMIT")
            )  # fmt: skip
            exc = StepTimedOut(f"stopped after the time limit of {limit} s ({name})")
        try:
            STEPS[self.step][1](context(), *args, exc)
        except Exception:  # the database is still away: the job shows the step pending
            log.exception("could not record the failure of %s%r", self.name, args)


def _register(step: str, **options: Any) -> Any:
    attributes = {"name": f"cenr.{step}", "step": step, **RETRY, **options}
    return app.register_task(type(f"{step.title()}Step", (Step,), attributes)())


extract = _register("extract")
classify = _register("classify")
# An export of a big job runs for minutes, past Redis's visibility timeout (which suits
# the small tasks): acknowledged on receipt, so it is never handed out twice while it
# runs. One lost with its worker is queued again by the stall sweeper (worker.sweeper).
_settings = get_settings()
export = _register(
    "export", acks_late=False, soft_time_limit=_settings.export_time_limit,
    time_limit=_settings.export_time_limit + HARD_LIMIT_MARGIN,
)  # fmt: skip


class CeleryQueue:
    """The pipeline's dispatcher when a broker is configured."""

    def extract(self, job_id: str, file_id: int) -> None:
        extract.apply_async((job_id, file_id), queue="extract")

    def classify(self, job_id: str, item_ids: list[int]) -> None:
        classify.apply_async((job_id, list(item_ids)), queue="classify")

    def export(self, job_id: str, piece: dict[str, Any] | None = None) -> None:
        export.apply_async((job_id, piece), queue="export")
