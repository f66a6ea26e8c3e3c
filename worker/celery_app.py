"""Celery's app and its configuration, each setting with its reason.

What matters for not losing work:

* JSON only, both ways: no pickle ever crosses the broker.
* ``acks_late`` + ``reject_on_worker_lost``: a task is acknowledged after it finishes,
  so a worker killed mid-batch leaves it on the broker. Redis (the default) hands it out
  again after ``CENR_VISIBILITY_TIMEOUT`` seconds (derived: 30 s); RabbitMQ
  (``CENR_BROKER_URL=amqp://...``) as soon as the worker's connection drops, and keeps
  its durable queues and persistent messages across a restart. RabbitMQ closes a
  channel whose task stays unacknowledged past its ``consumer_timeout`` (30 minutes by
  default): the acknowledged-late steps are bounded well under it (CENR_TASK_TIME_LIMIT,
  checked by the settings), and an export is acknowledged when it starts. The steps
  are idempotent (see :mod:`worker.steps`), so the second run writes nothing twice.
* ``prefetch_multiplier=1``: a worker holds one task beyond the one it runs.
* Retries with exponential backoff when the database is unreachable, and publishing
  retries when the broker is.
* Time limits: a step is stopped after ``CENR_TASK_TIME_LIMIT`` seconds (a soft limit
  the step sees as an exception, so its protocols are marked failed with the reason; a
  hard limit a minute later kills a step stuck in native code).
* Separate queues, ``extract``, ``classify`` and ``export``, so workers can be
  dedicated and a long export never blocks classification.

The tasks themselves, and what a worker does when it cannot load a model, are in
:mod:`worker.tasks`.
"""

from __future__ import annotations

from celery import Celery
from kombu import Exchange, Queue
from kombu.exceptions import OperationalError as BrokerError

from schema.errors import DatabaseUnavailable
from worker.settings import Settings, get_settings

QUEUES = ("extract", "classify", "export")
RETRY = {
    "autoretry_for": (DatabaseUnavailable, BrokerError, ConnectionError),
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 30,
}


def configure(app: Celery, settings: Settings) -> None:
    """Apply the settings to ``app``; every setting says why it is there."""
    app.conf.update(
        # No broker: tasks run in this process (the embedded default).
        broker_url=settings.broker_url or "memory://",
        # JSON only, both ways: a message that unpickles can run code on a worker.
        task_serializer="json",
        result_serializer="json",
        event_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        # Results live in the database; a result backend would only duplicate them.
        task_ignore_result=True,
        # Acknowledge after the work, and give a task back when its worker dies, so a
        # killed worker's batch is delivered again instead of lost.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # The soft limit is an exception the step records; the hard one, 10 s later, stops
        # a step stuck in native code. Exports have limits of their own (worker.tasks).
        task_soft_time_limit=settings.task_time_limit,
        task_time_limit=settings.hard_time_limit,
        # One task beyond the one running: a slow worker does not sit on a queue of them.
        worker_prefetch_multiplier=1,
        # A pool process loads the newest model before it takes a task (worker.tasks):
        # give it the time that takes (Celery's default is 4 s).
        worker_proc_alive_timeout=120,
        # One queue per stage, so workers can be dedicated and a long export never
        # blocks classification.
        task_default_queue="classify",
        task_routes={f"cenr.{q}": {"queue": q} for q in QUEUES},
        # Durable queues and persistent messages (kombu's defaults, stated): RabbitMQ
        # keeps both across a restart. Redis keeps what its own persistence keeps.
        task_queues=[Queue(q, Exchange(q), routing_key=q, durable=True) for q in QUEUES],
        task_default_delivery_mode="persistent",
        # A broker that is briefly away: retry publishing for about 10 s, then fail loudly
        # (the job stays in the database; `cenr requeue JOB` queues it again).
        task_publish_retry=True,
        task_publish_retry_policy={
            "max_retries": 5,
            "interval_start": 0.5,
            "interval_step": 1,
            "interval_max": 3,
        },
        # A worker started before its broker waits for it rather than exiting.
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        broker_transport_options={
            # Redis: an unacknowledged task is delivered again after this many seconds:
            # derived from the bound on a step's run time (tasks are bounded in tokens,
            # CENR_TASK_TOKENS, so they take seconds), so a lost worker's batch comes back
            # within a minute and no running task is handed out twice.
            "visibility_timeout": settings.redelivery_seconds,
            # How often the unacknowledged tasks are looked at, so recovery takes about
            # the timeout and not a multiple of it.
            "unacked_restore_interval": min(5, max(1, settings.redelivery_seconds // 4)),
            "unacked_restore_throttle": 1,
            # The restore sweep holds a Redis lock; kombu keeps it 300 s by default, so a
            # worker SIGKILLed while holding it stopped every other worker from restoring
            # its lost batch for five minutes. A sweep takes milliseconds.
            "unacked_mutex_expire": max(5, min(60, settings.redelivery_seconds)),
        },
        # `cenr worker` configures logging itself.
        worker_hijack_root_logger=False,
        # A lost broker connection must not cancel a batch halfway: acks_late redelivers.
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )


app = Celery("cenr", set_as_current=False)
configure(app, get_settings())
