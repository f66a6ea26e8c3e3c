"""A distributed deployment for the tests: PostgreSQL, Redis and `cenr worker` processes."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from cenr.cli import main
from tests.portal.conftest import free_port
from tests.worker.cluster import Process, wait_until

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


@dataclass
class Cluster:
    """Settings shared by this process and the workers, and the workers started."""

    url: str
    env: dict[str, str]
    logs: Path
    monkeypatch: pytest.MonkeyPatch
    workers: list[Process] = field(default_factory=list)

    def set(self, **settings: str) -> None:
        """Change settings here and for workers started from now on."""
        for name, value in settings.items():
            self.monkeypatch.setenv(name, value)
            self.env[name] = value

    def start_worker(self, ready: str = "ready.", **settings: str) -> Process:
        """A `cenr worker`, with ``settings`` on top of the cluster's own; waits for
        ``ready`` in its log."""
        n = len(self.workers)
        argv = ["worker", "--loglevel", "INFO", "--hostname", f"w{n}@%h"]
        worker = Process(argv, {**self.env, **settings}, self.logs / f"worker{n}.log")
        self.workers.append(worker)
        worker.wait_for_output(ready)
        return worker


@pytest.fixture
def cluster(
    postgres_service: str, broker_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Cluster]:
    running = Cluster(postgres_service, dict(os.environ), tmp_path, monkeypatch)
    running.set(
        CENR_DATABASE_URL=postgres_service,
        CENR_BROKER_URL=broker_url,
        CENR_CLASSIFY_BATCH="4",
        CENR_TASK_TIME_LIMIT="5",  # tasks of 4 short protocols take well under a second
        CENR_VISIBILITY_TIMEOUT="6",
    )
    yield running
    for worker in running.workers:
        worker.stop()


@dataclass
class RedisServer:
    """A Redis of a test's own that keeps nothing on disk, like the machine's."""

    port: int
    folder: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        program = shutil.which("redis-server")
        assert program, "redis-server is required (Debian package redis-server)"
        command = [program, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--dir", str(self.folder)]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        assert wait_until(lambda: _pings(client), 20), "the test's Redis did not start"
        client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=30)
            self.process = None


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.exceptions.ConnectionError:
        return False


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(free_port(), tmp_path)
    server.start()
    yield server
    server.stop()


def submit(capsys: pytest.CaptureFixture[str], *paths: Path) -> str:
    assert main(["submit", *map(str, paths)]) == 0
    return capsys.readouterr().out.strip().splitlines()[-1]
