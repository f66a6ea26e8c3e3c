"""Faults, each with real processes: every submitted protocol ends done or failed with a
reason, exactly once (one prediction per document, token rows as many as its tokens).
Each fault that is not about one broker runs on Redis and on RabbitMQ (the ``broker``
fixture).

* a worker SIGKILLed again and again during a job;
* Redis restarted mid-job, its queue lost (the stall sweeper queues the job again);
* RabbitMQ restarted mid-job (its durable queues keep the work);
* PostgreSQL stopped for 30 seconds mid-job (steps retry; nothing is written twice);
* the model folder damaged on one worker (it refuses classification; the others carry on);
* a step that runs past its time limit (stopped; its protocols fail with the reason);
* a full disk under the exports or the inbox (tests/worker/test_full_disk.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text

from cenr.cli import main
from tests.conftest import demo_rows, table_counts, write_export
from tests.worker.cluster import empty_rabbitmq_queues, item_counts, job_state, wait_until
from tests.worker.conftest import REDIS_DB, Cluster, RedisServer


def _exactly_once(url: str, job: str, done: int, failed: int = 0) -> None:
    """Every protocol of the job finished once; stored rows match, none twice."""
    expected = {"done": done, "failed": failed} if failed else {"done": done}
    assert item_counts(url, job) == expected
    counts = table_counts(url)
    assert counts["predictions"] == counts["documents"] - failed == done
    assert counts["token_weights"] == counts["tokens_expected"]
    engine = create_engine(url)
    with engine.connect() as connection:
        errors = connection.execute(
            text("SELECT job_item_id, count(*) FROM processing_errors WHERE job_id = :j "
                 "GROUP BY job_item_id HAVING count(*) > 1"), {"j": job},
        ).all()  # fmt: skip
    engine.dispose()
    assert errors == [], "a failure recorded twice"


def _progress(cluster: Cluster, job: str, at_least: int, timeout: float = 120) -> None:
    assert wait_until(lambda: item_counts(cluster.url, job).get("done", 0) >= at_least, timeout)


def _finished(cluster: Cluster, job: str, timeout: float) -> None:
    assert wait_until(lambda: job_state(cluster.url, job) == "done", timeout), (
        item_counts(cluster.url, job),
        "\n".join(w.output()[-2000:] for w in cluster.workers),
    )


RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"


@pytest.fixture(params=["redis", "rabbitmq"])
def broker(request: pytest.FixtureRequest, cluster: Cluster) -> str:
    """The cluster on Redis (its own database) or on the machine's RabbitMQ (empty cenr
    queues): the fault tests run on both."""
    if request.param == "rabbitmq":
        empty_rabbitmq_queues(RABBITMQ)
        cluster.set(CENR_BROKER_URL=RABBITMQ)
    return str(request.param)


def _submit(cluster: Cluster, path: Path) -> str:
    """`cenr submit` in a process of its own, as a user runs it (this process's Celery app
    keeps the first broker it was configured for)."""
    cenr = Path(sys.executable).with_name("cenr")
    done = subprocess.run([str(cenr), "submit", str(path)], env=cluster.env,
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def _unacknowledged(broker: str) -> int:
    """Messages the broker holds as delivered but not acknowledged, over cenr's queues."""
    if broker == "redis":
        client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
        try:
            return int(client.hlen("unacked"))
        finally:
            client.close()
    listed = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "name", "messages_unacknowledged"],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    counts = dict(line.split() for line in listed.splitlines() if len(line.split()) == 2)
    return sum(int(counts.get(q, 0)) for q in ("extract", "classify", "export"))


def test_a_worker_killed_again_and_again_loses_nothing(
    cluster: Cluster, broker: str, tmp_path: Path
) -> None:
    """A worker killed three times mid-job loses nothing, on Redis and on RabbitMQ: every protocol
    ends done exactly once and no message is left unacknowledged."""
    worker = cluster.start_worker()
    write_export(tmp_path / "export.csv", demo_rows(120))
    job = _submit(cluster, tmp_path / "export.csv")
    for kill in range(3):
        _progress(cluster, job, 8 + 24 * kill, timeout=240)
        worker.kill()  # SIGKILL mid-job: its batch is neither stored nor acknowledged
        assert item_counts(cluster.url, job).get("done", 0) < 120, "finished before kill"
        worker = cluster.start_worker()
    _finished(cluster, job, 240)
    _exactly_once(cluster.url, job, 120)
    assert _unacknowledged(broker) == 0


def test_with_the_defaults_a_lost_workers_batch_is_back_within_a_minute(
    cluster: Cluster, broker: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With the default limits and batch sizes, on Redis and on RabbitMQ, a worker SIGKILLed
    mid-batch delays its job by under 60 s and every protocol ends done exactly once; on
    Redis, which hands the batch out again only after its visibility timeout, `cenr status`
    says meanwhile that the job waits for a lost worker's protocols."""
    defaults = ("CENR_TASK_TIME_LIMIT", "CENR_VISIBILITY_TIMEOUT", "CENR_CLASSIFY_BATCH")
    for name in defaults:
        cluster.monkeypatch.delenv(name, raising=False)
        cluster.env.pop(name, None)
    worker = cluster.start_worker(ready="model tiny loaded")
    write_export(tmp_path / "export.csv", _long_rows(40))
    job = _submit(cluster, tmp_path / "export.csv")
    assert wait_until(lambda: item_counts(cluster.url, job).get("running", 0) > 0, 120)
    worker.kill()  # mid-batch: its protocols stay running, unacknowledged
    killed = time.monotonic()
    assert item_counts(cluster.url, job).get("done", 0) < 40, "finished before the kill"
    cluster.start_worker(ready="model tiny loaded")

    notes: list[str] = []

    def reported_lost() -> bool:
        capsys.readouterr()
        assert main(["status", job]) == 0
        notes.append(capsys.readouterr().out.splitlines()[0])
        return "of a lost worker" in notes[-1] or job_state(cluster.url, job) == "done"

    assert wait_until(reported_lost, 60), notes[-3:]
    _finished(cluster, job, max(1.0, 60 - (time.monotonic() - killed)))
    delay = time.monotonic() - killed
    assert delay < 60, f"the job ended {delay:.0f} s after the kill"
    if broker == "redis":
        assert any("of a lost worker" in note for note in notes), notes[-3:]
    _exactly_once(cluster.url, job, 40)


def test_redis_restarted_mid_job_the_job_finishes_after_it_returns(
    cluster: Cluster, private_redis: RedisServer, tmp_path: Path
) -> None:
    """When Redis restarts mid-job and its queue is lost, the job is queued again and finishes with
    every protocol done exactly once."""
    cluster.set(CENR_BROKER_URL=private_redis.url, CENR_STALL_SECONDS="20",
                CENR_TASK_TIME_LIMIT="5", CENR_EXPORT_TIME_LIMIT="9")  # fmt: skip
    # one process, its model loaded before the first task starts its time limit
    worker = cluster.start_worker(ready="model tiny loaded", CENR_WORKER_CONCURRENCY="1")
    write_export(tmp_path / "export.csv", demo_rows(120, start=10))
    job = _submit(cluster, tmp_path / "export.csv")
    _progress(cluster, job, 8)
    private_redis.stop()  # every queued message is gone with it
    time.sleep(3)
    private_redis.start()
    _finished(cluster, job, 240)
    _exactly_once(cluster.url, job, 120)
    assert worker.alive
    assert "queued again" in worker.output()


def test_rabbitmq_restarted_mid_job_keeps_its_queued_work(cluster: Cluster, tmp_path: Path) -> None:
    """RabbitMQ stopped and started mid-job keeps cenr's durable queues and persistent
    messages: the workers reconnect and the job finishes, every protocol done exactly once,
    with nothing queued again by the stall sweeper (its limit is far off)."""
    empty_rabbitmq_queues(RABBITMQ)
    cluster.set(CENR_BROKER_URL=RABBITMQ, CENR_STALL_SECONDS="1000")
    worker = cluster.start_worker(ready="model tiny loaded", CENR_WORKER_CONCURRENCY="1")
    write_export(tmp_path / "export.csv", demo_rows(120, start=10))
    job = _submit(cluster, tmp_path / "export.csv")
    _progress(cluster, job, 8)

    def ctl(action: str) -> None:
        subprocess.run(["rabbitmqctl", "-q", action], check=True, timeout=120,
                       capture_output=True)  # fmt: skip

    ctl("stop_app")  # the broker goes away with the job's messages queued
    try:
        time.sleep(3)
    finally:
        ctl("start_app")
    _finished(cluster, job, 240)
    _exactly_once(cluster.url, job, 120)
    assert worker.alive
    assert "queued again" not in worker.output()


def _pg_cluster(action: str) -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    fast = ["-m", "fast"] if action == "stop" else []
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action, *fast]
    subprocess.run(command, check=True, timeout=120)


def test_database_stopped_for_30_seconds_mid_job(
    cluster: Cluster, broker: str, tmp_path: Path
) -> None:
    """A worker survives the database being stopped for 30 seconds mid-job, on Redis and on
    RabbitMQ, retries, and the job finishes with every protocol done exactly once."""
    worker = cluster.start_worker()
    write_export(tmp_path / "export.csv", demo_rows(120, start=30))
    job = _submit(cluster, tmp_path / "export.csv")
    _progress(cluster, job, 8)
    _pg_cluster("stop")
    try:
        assert wait_until(lambda: "database unavailable" in worker.output(), 30)
        time.sleep(30)
        assert worker.alive, "the worker survives a database outage"
    finally:
        _pg_cluster("start")
    _finished(cluster, job, 300)
    _exactly_once(cluster.url, job, 120)
    assert "Retry in" in worker.output()


def test_a_worker_with_a_damaged_model_refuses_and_the_others_carry_on(
    cluster: Cluster, broker: str, tmp_path: Path
) -> None:
    """A worker with a damaged model refuses classification tasks and sends them back without
    failing them, and a healthy worker finishes the job, on Redis and on RabbitMQ."""
    # A version registered before the model store: each host has only its own folder.
    engine = create_engine(cluster.url)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM model_files"))
    engine.dispose()
    good_home = Path(cluster.env["CENR_HOME"])
    broken_home = tmp_path / "broken-home"
    (broken_home / "models").mkdir(parents=True)
    subprocess.run(["cp", "-r", str(good_home / "models" / "tiny"), str(broken_home / "models")],
                   check=True)  # fmt: skip
    (broken_home / "models" / "tiny" / "model.keras").write_bytes(b"PK\x03\x04 not a model")

    broken = cluster.start_worker(CENR_HOME=str(broken_home))
    write_export(tmp_path / "export.csv", demo_rows(40, start=60))
    job = _submit(cluster, tmp_path / "export.csv")
    broken.wait_for_output("refuses classify tasks: cannot load model tiny", timeout=120)
    assert "fix its model folder (CENR_HOME/models) and restart it" in broken.output()
    broken.wait_for_output("retry: Retry in", timeout=60)  # the task went back to the queue
    assert item_counts(cluster.url, job).get("failed", 0) == 0, "refused, not failed"

    cluster.start_worker()  # a healthy one
    _finished(cluster, job, 240)
    _exactly_once(cluster.url, job, 40)
    assert broken.alive


def _long_rows(n: int) -> list[dict[str, str]]:
    """Protocols of several thousand tokens each."""
    rows = demo_rows(n, start=80)
    return [{k: (v if k == "Protocol ID" else " ".join([v] * 40)) for k, v in r.items()}
            for r in rows]  # fmt: skip


def test_a_step_past_its_time_limit_is_stopped_and_its_protocols_fail(
    cluster: Cluster, broker: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A step past its time limit is stopped and its protocols fail with that reason, on Redis and
    on RabbitMQ; `cenr status` lists the first 20, and the worker goes on to the next job."""
    cluster.set(CENR_TASK_TIME_LIMIT="2", CENR_STALL_SECONDS="1000", CENR_CLASSIFY_BATCH="64",
                CENR_TASK_TOKENS="1000000")  # fmt: skip
    worker = cluster.start_worker(ready="model tiny loaded", CENR_WORKER_CONCURRENCY="1")
    write_export(tmp_path / "long.csv", _long_rows(24))
    job = _submit(cluster, tmp_path / "long.csv")
    _finished(cluster, job, 180)
    assert item_counts(cluster.url, job) == {"failed": 24}
    engine = create_engine(cluster.url)
    with engine.connect() as connection:
        reasons = connection.execute(
            text("SELECT message FROM processing_errors WHERE job_id = :j"), {"j": job}
        ).scalars().all()  # fmt: skip
    engine.dispose()
    assert reasons == ["stopped after the time limit of 2 s (CENR_TASK_TIME_LIMIT)"] * 24
    assert main(["status", job]) == 0
    shown = capsys.readouterr().out
    assert "long.csv, protocol HM" in shown
    assert shown.count("stopped after the time limit of 2 s") == 20, "the first 20, then a count"
    assert f"... and 4 more (`cenr export {job} --csv FILE`)" in shown

    write_export(tmp_path / "short.csv", demo_rows(2, start=5))
    again = _submit(cluster, tmp_path / "short.csv")  # the worker goes on with the next
    _finished(cluster, again, 120)
    assert item_counts(cluster.url, again) == {"done": 2}
    assert worker.alive
