"""Celery: the app, three thin tasks that take ids, and the dispatcher that queues them.

Configuration that matters for not losing work:

* JSON only, both ways: no pickle ever crosses the broker.
* ``acks_late`` + ``reject_on_worker_lost``: a task is acknowledged after it finishes,
  so a worker killed mid-batch leaves it on the broker; Redis hands it out again after
  ``CENR_VISIBILITY_TIMEOUT`` seconds. The steps are idempotent (see
  :mod:`worker.pipeline`), so the second run writes nothing twice.
* ``prefetch_multiplier=1``: a worker holds one task beyond the one it runs.
* Retries with exponential backoff when the database is unreachable, and publishing
  retries when the broker is.
* Time limits: a step is stopped after ``CENR_TASK_TIME_LIMIT`` seconds (a soft limit
  the step sees as an exception, so its protocols are marked failed with the reason; a
  hard limit a minute later kills a step stuck in native code).
* A worker that cannot load a job's model refuses classification: it logs why, stops
  consuming the ``classify`` queue and sends the task back for the other workers.
* A stall sweeper in every worker queues again the jobs whose messages a broker lost
  (:mod:`worker.sweeper`).
* Separate queues, ``extract``, ``classify`` and ``export``, so workers can be
  dedicated and a long export never blocks classification.

Importing this module does not import TensorFlow; the model loads on a worker's first
classification task, once per worker process.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from billiard.exceptions import SoftTimeLimitExceeded
from celery import Celery, Task, signals
from kombu.exceptions import OperationalError as BrokerError

from cenr.settings import Settings, get_settings
from schema.errors import DatabaseUnavailable, ModelUnavailable, StepTimedOut

log = logging.getLogger(__name__)
QUEUES = ("extract", "classify", "export")
RETRY = {
    "autoretry_for": (DatabaseUnavailable, BrokerError, ConnectionError),
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 30,
}


def configure(app: Celery, settings: Settings) -> None:
    app.conf.update(
        broker_url=settings.broker_url or "memory://",
        task_serializer="json",
        result_serializer="json",
        event_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_ignore_result=True,
        task_acks_late=True,
        task_soft_time_limit=settings.task_time_limit,
        task_time_limit=settings.task_time_limit + 60,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue="classify",
        task_routes={f"cenr.{q}": {"queue": q} for q in QUEUES},
        task_publish_retry=True,
        # A broker that is briefly away: retry publishing for about 10 s, then fail loudly
        # (the job stays in the database; `cenr requeue JOB` queues it again).
        task_publish_retry_policy={
            "max_retries": 5,
            "interval_start": 0.5,
            "interval_step": 1,
            "interval_max": 3,
        },
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        broker_transport_options={
            "visibility_timeout": settings.visibility_timeout,
            "unacked_restore_interval": min(10, max(1, settings.visibility_timeout // 4)),
            "unacked_restore_throttle": 1,
            # The restore sweep holds a Redis lock; kombu keeps it 300 s by default, so a
            # worker SIGKILLed while holding it stopped every other worker from restoring
            # its lost batch for five minutes. A sweep takes milliseconds.
            "unacked_mutex_expire": max(5, min(60, settings.visibility_timeout)),
        },
        worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )


app = Celery("cenr", set_as_current=False)
configure(app, get_settings())

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
            from worker.pipeline import Context

            settings = get_settings()
            engine = open_database(settings.resolved_database_url)
            _context = Context(settings, engine, CeleryQueue(), others_may_serve=True)
        return _context


@signals.worker_process_init.connect
def _child_started(**_: Any) -> None:
    """A pool process: its own database connections, and the newest model loading in the
    background so the first task does not spend its time limit on it."""
    global _context
    if _context is not None:  # inherited from the parent: its sockets are the parent's
        _context.engine.dispose(close=False)
        _context = None
    if PRELOAD:
        threading.Thread(target=_preload, name="cenr-preload", daemon=True).start()


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
    for good its failure is recorded so the job still ends (see ``pipeline.STEPS``)."""

    step = ""

    def run(self, *args: Any) -> None:
        from worker.pipeline import STEPS

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
        from worker.pipeline import STEPS

        if isinstance(exc, SoftTimeLimitExceeded):
            limit = context().settings.task_time_limit
            exc = StepTimedOut(f"stopped after the time limit of {limit} s (CENR_TASK_TIME_LIMIT)")
        try:
            STEPS[self.step][1](context(), *args, exc)
        except Exception:  # the database is still away: the job shows the step pending
            log.exception("could not record the failure of %s%r", self.name, args)


def _register(step: str) -> Any:
    task = type(f"{step.title()}Step", (Step,), {"name": f"cenr.{step}", "step": step, **RETRY})
    return app.register_task(task())


extract = _register("extract")
classify = _register("classify")
export = _register("export")


class CeleryQueue:
    """The pipeline's dispatcher when a broker is configured."""

    def extract(self, job_id: str, file_id: int) -> None:
        extract.apply_async((job_id, file_id), queue="extract")

    def classify(self, job_id: str, item_ids: list[int]) -> None:
        classify.apply_async((job_id, list(item_ids)), queue="classify")

    def export(self, job_id: str) -> None:
        export.apply_async((job_id,), queue="export")
