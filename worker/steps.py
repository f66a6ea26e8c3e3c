"""The steps by name, what to do when one fails for good, and the in-process runner.

Celery tasks (:mod:`worker.tasks`) and :class:`LocalRunner` both run steps through
:func:`run_step`; neither holds any logic of its own. Each step commits its results in
one transaction and only then hands the next step to the dispatcher, and each step can be
run twice without writing anything twice:

* ``extract_file`` on a file already extracted queues what is still ``waiting``;
* ``classify_items`` skips items already done and documents already predicted by the
  job's model (the unique constraint settles any race);
* ``export_job`` overwrites its files atomically.

A file or row that cannot be processed becomes a failed source file or job item with a
``processing_errors`` row naming the file, the row and the reason; the job goes on.
Only :class:`schema.errors.DatabaseUnavailable` escapes, for the caller to retry.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from schema.errors import DatabaseError
from worker.classify import classify_items, fail_items
from worker.context import Context
from worker.export import export_job, fail_export
from worker.extract.step import extract_file, fail_file

log = logging.getLogger(__name__)


# step name -> (work, what to do when the work fails for good)
STEPS: dict[str, tuple[Callable[..., None], Callable[..., None]]] = {
    "extract": (extract_file, fail_file),
    "classify": (classify_items, fail_items),
    "export": (export_job, fail_export),
}


def run_step(ctx: Context, name: str, *args: Any) -> None:
    """Run a step; if it fails for good, record the failure so the job still ends."""
    work, give_up = STEPS[name]
    try:
        work(ctx, *args)
    except DatabaseError:
        raise
    except Exception as exc:
        log.exception("step %s%r failed", name, args)
        give_up(ctx, *args, exc)


class LocalRunner:
    """Runs dispatched steps in this process, in order (the embedded default)."""

    def __init__(self, on_step: Callable[[], None] | None = None) -> None:
        self.steps: deque[tuple[str, tuple[Any, ...]]] = deque()
        self.ctx: Context | None = None
        self.on_step = on_step

    def extract(self, job_id: str, file_id: int) -> None:
        self.steps.append(("extract", (job_id, file_id)))

    def classify(self, job_id: str, item_ids: list[int]) -> None:
        self.steps.append(("classify", (job_id, item_ids)))

    def export(self, job_id: str, piece: dict[str, Any] | None = None) -> None:
        self.steps.append(("export", (job_id, piece)))

    def drain(self) -> None:
        assert self.ctx is not None, "LocalRunner.ctx is set by its creator"
        while self.steps:
            name, args = self.steps.popleft()
            run_step(self.ctx, name, *args)
            if self.on_step:
                self.on_step()
