"""The distributed path for real: PostgreSQL, Redis and `cenr worker` processes.

A worker SIGKILLed mid-batch and a database stopped mid-job must lose no protocol and
write no row twice.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from cenr.cli import main
from tests.conftest import demo_rows, last_json_line, table_counts, write_export
from tests.worker.cluster import CENR, Process, item_counts, job_state, wait_until
from tests.worker.files import encrypted_pdf_bytes, zip_bomb_docx

REDIS_DB = 11


@pytest.fixture
def broker_url() -> Iterator[str]:
    """A Redis database of the tests' own, emptied before and after."""
    url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        client.flushdb()
    except redis.exceptions.ConnectionError as exc:
        pytest.fail(f"Redis at 127.0.0.1:6379 is required (run `make services`): {exc}")
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def cluster(
    postgres_service: str, broker_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """Settings for a distributed deployment; this process and the workers share them."""
    settings = {
        "CENR_DATABASE_URL": postgres_service,
        "CENR_BROKER_URL": broker_url,
        "CENR_CLASSIFY_BATCH": "4",
        "CENR_VISIBILITY_TIMEOUT": "6",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    env = {**os.environ, **settings}
    workers: list[Process] = []

    def start_worker() -> Process:
        worker = Process(
            ["worker", "--loglevel", "INFO"], env, tmp_path / f"worker{len(workers)}.log"
        )
        workers.append(worker)
        worker.wait_for_output("ready.")
        return worker

    yield {"url": postgres_service, "start_worker": start_worker, "env": env}  # type: ignore[misc]
    for worker in workers:
        worker.stop()


def submit(capsys: pytest.CaptureFixture[str], *paths: Path) -> str:
    assert main(["submit", *map(str, paths)]) == 0
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_submit_status_and_rerun(
    cluster: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    worker = cluster["start_worker"]()
    inbox = tmp_path / "inbox"
    write_export(inbox / "export.csv", demo_rows(20))
    (inbox / "empty.txt").write_text("")  # bad files fail alone; the worker keeps running
    (inbox / "bomb.docx").write_bytes(zip_bomb_docx(300))
    (inbox / "locked.pdf").write_bytes(encrypted_pdf_bytes("secret"))
    (inbox / "photo.txt").write_bytes(bytes(range(256)) * 8)
    job = submit(capsys, inbox)
    assert main(["status", job, "--wait", "--timeout", "180", "--json"]) == 0
    out = capsys.readouterr().out
    report = last_json_line(out)
    assert report["job"] == job
    assert (report["total"], report["done"], report["failed"]) == (24, 20, 4)
    assert worker.alive
    assert report["queued"] == report["running"] == 0
    assert Path(report["exports"][0]).is_file()
    first = table_counts(cluster["url"])
    assert first["predictions"] == 20
    assert first["token_weights"] == first["tokens_expected"]

    again = submit(capsys, inbox / "export.csv")  # same content, same model
    assert main(["status", again, "--wait", "--timeout", "180", "--json"]) == 0
    assert last_json_line(capsys.readouterr().out)["done"] == 20
    second = table_counts(cluster["url"])
    for table in ("documents", "predictions", "token_weights"):
        assert second[table] == first[table], table


def test_worker_killed_mid_batch_loses_nothing_and_writes_nothing_twice(
    cluster: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = cluster["start_worker"]()
    write_export(tmp_path / "export.csv", demo_rows(120))
    job = submit(capsys, tmp_path / "export.csv")
    assert wait_until(lambda: item_counts(cluster["url"], job).get("done", 0) >= 8, 120)
    first.kill()  # SIGKILL, mid-job: its batch is neither stored nor acknowledged
    at_kill = item_counts(cluster["url"], job)
    assert at_kill.get("done", 0) < 120, "the job finished before the kill; test proves nothing"

    cluster["start_worker"]()
    assert wait_until(lambda: job_state(cluster["url"], job) == "done", 240), (
        item_counts(cluster["url"], job),
        _broker_state(),
    )
    assert item_counts(cluster["url"], job) == {"done": 120}
    counts = table_counts(cluster["url"])
    assert counts["documents"] == counts["predictions"] == 120
    assert counts["token_weights"] == counts["tokens_expected"]


def _broker_state() -> dict[str, object]:
    """What Redis holds of unacknowledged work, for a failure message."""
    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    try:
        return {
            "unacked": client.hlen("unacked"),
            "unacked_index": client.zrange("unacked_index", 0, -1, withscores=True),
            "mutex_ttl": client.ttl("unacked_mutex"),
            "queues": {q: client.llen(q) for q in ("extract", "classify", "export")},
        }
    finally:
        client.close()


def _pg_cluster(action: str) -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    fast = ["-m", "fast"] if action == "stop" else []
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action, *fast]
    subprocess.run(command, check=True, timeout=120)


def test_database_stopped_and_restarted_mid_job(
    cluster: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    worker = cluster["start_worker"]()
    write_export(tmp_path / "export.csv", demo_rows(120, start=30))
    job = submit(capsys, tmp_path / "export.csv")
    assert wait_until(lambda: item_counts(cluster["url"], job).get("done", 0) >= 8, 120)
    _pg_cluster("stop")
    try:
        assert wait_until(lambda: "database unavailable" in worker.output(), 30)
    finally:
        _pg_cluster("start")
    assert worker.alive, "the worker survives a database outage"
    assert wait_until(lambda: job_state(cluster["url"], job) == "done", 300), item_counts(
        cluster["url"], job
    )
    assert item_counts(cluster["url"], job) == {"done": 120}
    counts = table_counts(cluster["url"])
    assert counts["predictions"] == 120
    assert counts["token_weights"] == counts["tokens_expected"]
    assert "Retry in" in worker.output()


def test_broker_down_at_submit_keeps_the_job_for_requeue(
    cluster: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_export(tmp_path / "export.csv", demo_rows(5, start=150))
    down = {**cluster["env"], "CENR_BROKER_URL": "redis://127.0.0.1:1/0"}  # nothing there
    result = subprocess.run(  # a process of its own: the broker URL is read at start
        [CENR, "submit", str(tmp_path / "export.csv")],
        env=down, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    err = result.stderr.strip().splitlines()[-1]
    assert err.startswith("cenr: error: cannot reach the broker")
    job = err.split("job ")[1].split()[0]
    assert f"`cenr requeue {job}`" in err
    assert job_state(cluster["url"], job) == "created"

    cluster["start_worker"]()
    assert main(["requeue", job]) == 0
    assert "1 step(s) queued again" in capsys.readouterr().out
    assert wait_until(lambda: job_state(cluster["url"], job) == "done", 120)
    assert item_counts(cluster["url"], job) == {"done": 5}
