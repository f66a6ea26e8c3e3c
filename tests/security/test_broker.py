"""The broker refuses pickle: a real `cenr worker` drops a pickled task unexecuted.

A pickled Celery message runs code while it is decoded, so whoever can write to Redis
could run anything on a worker. The workers accept JSON only (worker/tasks.py); here a
publisher that allows pickle sends one for ``cenr.classify`` whose arguments would
create a file when unpickled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery

from tests.conftest import demo_rows, write_export
from tests.worker.cluster import item_counts, wait_until
from tests.worker.conftest import Cluster, cluster

__all__ = ["cluster"]
REDIS_DB = 12  # tests/worker use 11


@pytest.fixture
def private_db(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tests.worker.conftest.REDIS_DB", REDIS_DB)


@pytest.fixture
def broker_url(private_db: None, broker_url: str) -> str:
    """tests/worker's broker, on this module's own Redis database (for ``cluster``)."""
    assert broker_url.endswith(f"/{REDIS_DB}"), broker_url
    return broker_url


class Payload:
    """Unpickling this creates ``marker``: proof that a pickle was decoded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


class Recorder:
    """A dispatcher that extracts at once and keeps the classification tasks."""

    def __init__(self) -> None:
        self.ctx: Any = None
        self.batches: list[list[int]] = []

    def extract(self, job_id: str, file_id: int) -> None:
        from worker.extract.step import extract_file

        extract_file(self.ctx, job_id, file_id)

    def classify(self, job_id: str, item_ids: list[int]) -> None:
        self.batches.append(list(item_ids))

    def export(self, job_id: str) -> None:
        raise AssertionError("nothing is classified yet")


def _extracted_job(csv: Path) -> tuple[str, list[int]]:
    """A job whose items are extracted and waiting for classification, nothing queued."""
    from schema.database import open_database
    from worker.context import Context
    from worker.dispatch import start_job
    from worker.settings import get_settings
    from worker.submit import submit_paths

    settings = get_settings()
    engine = open_database(settings.resolved_database_url)
    recorder = Recorder()
    recorder.ctx = Context(settings, engine, recorder)
    try:
        job = submit_paths(settings, engine, [csv], "tiny", None, "cli", {})
        start_job(recorder.ctx, job)
    finally:
        engine.dispose()
    return job, [i for batch in recorder.batches for i in batch]


def test_a_pickled_task_is_refused_and_the_worker_goes_on(
    cluster: Cluster, broker_url: str, tmp_path: Path
) -> None:
    """A pickled task is refused and dropped without being decoded or run, and the worker stays up
    to run the next JSON task."""
    job, items = _extracted_job(write_export(tmp_path / "export.csv", demo_rows(3)))
    assert len(items) == 3
    assert item_counts(cluster.url, job) == {"queued": 3}
    worker = cluster.start_worker()

    publisher = Celery("publisher", broker=broker_url, set_as_current=False)
    publisher.conf.update(accept_content=["json", "pickle"], task_serializer="pickle")
    marker = tmp_path / "unpickled"
    try:
        publisher.send_task(
            "cenr.classify", args=(job, items, Payload(marker)), queue="classify",
            serializer="pickle",
        )  # fmt: skip
        refusal = "Refusing to deserialize untrusted content of type pickle"
        assert wait_until(lambda: refusal in worker.output(), 60), worker.output()[-3000:]
        assert wait_until(lambda: not worker.alive, 3) is False, "the worker keeps running"
        assert not marker.exists(), "the pickle was decoded"
        assert item_counts(cluster.url, job) == {"queued": 3}, "and nothing was run"
        client = redis.Redis.from_url(broker_url)
        assert client.llen("classify") == 0, "dropped, not put back to loop"
        client.close()

        publisher.send_task("cenr.classify", args=(job, items), queue="classify",
                            serializer="json")  # fmt: skip
        assert wait_until(lambda: item_counts(cluster.url, job) == {"done": 3}, 120), (
            worker.output()[-3000:]
        )
    finally:
        publisher.close()
    assert worker.alive
    assert not marker.exists()
