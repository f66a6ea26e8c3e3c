"""Real service processes for the tests: `cenr worker` and `cenr watch` as subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text, update

from schema.database import open_database, session_scope
from schema.tables import Job
from worker.backpressure import queue_depth
from worker.jobs import Submission, create_job, resolve_model
from worker.settings import SizeLimits

CENR = str(Path(sys.executable).with_name("cenr"))


class Process:
    """A `cenr` sub-command in its own process group, its output in a log file."""

    def __init__(
        self,
        argv: list[str],
        env: dict[str, str],
        log: Path,
        prefix: list[str] | None = None,
        program: str | None = CENR,
    ) -> None:
        """``prefix`` runs the command through another one (``ip netns exec HOST``);
        ``program=None`` runs ``argv`` itself instead of a `cenr` sub-command."""
        self.log = log
        self._handle = log.open("ab")
        command = [*(prefix or []), *([program] if program else []), *argv]
        self.popen = subprocess.Popen(
            command, env=env, stdout=self._handle, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_output(self, needle: str, timeout: float = 90) -> None:
        wait_until(lambda: needle in self.output() or self.popen.poll() is not None, timeout)
        assert needle in self.output(), f"{needle!r} not in output:\n{self.output()[-3000:]}"

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group: no cleanup, no acknowledgements."""
        if self.alive:
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=30)
        self._handle.close()

    def stop(self) -> None:
        if self.alive:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=30)
        self._handle.close()


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def item_counts(url: str, job_id: str) -> dict[str, int]:
    """Job items by status, read straight from the database ({} while it is down)."""
    engine = create_engine(url, connect_args={"connect_timeout": 2})
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT status, count(*) FROM job_items WHERE job_id = :j GROUP BY status"),
                {"j": job_id},
            ).all()
        return {status: n for status, n in rows}
    except Exception:
        return {}
    finally:
        engine.dispose()


def job_state(url: str, job_id: str) -> str | None:
    engine = create_engine(url, connect_args={"connect_timeout": 2})
    try:
        with engine.connect() as connection:
            return connection.execute(
                text("SELECT status FROM jobs WHERE id = :j"), {"j": job_id}
            ).scalar_one_or_none()
    except Exception:
        return None
    finally:
        engine.dispose()


def waiting_job(url: str, folder: Path, n_files: int) -> str:
    """A job of ``n_files`` files submitted but not yet extracted: n_files in the queue."""
    folder.mkdir(parents=True, exist_ok=True)
    submissions = []
    for n in range(n_files):
        path = folder / f"waiting{n}.txt"
        path.write_text("Community partners co-designed the survey.")
        submissions.append(Submission(path, path.name))
    engine = open_database(url)
    try:
        with session_scope(engine) as session:
            job = create_job(session, submissions, resolve_model(session, None), folder,
                             "submit", {}, SizeLimits(2**20, 2**20))  # fmt: skip
            job.status = "queued"
            job_id = job.id
        with session_scope(engine) as session:
            assert queue_depth(session) == n_files
    finally:
        engine.dispose()
    return job_id


def finish_job(url: str, job_id: str) -> None:
    engine = open_database(url)
    with session_scope(engine) as session:
        session.execute(update(Job).where(Job.id == job_id).values(status="done"))
    engine.dispose()


def empty_rabbitmq_queues(url: str) -> None:
    """RabbitMQ's default vhost is shared: start from empty cenr queues (those not declared
    yet are empty already)."""
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=10) as connection:
            for queue in ("extract", "classify", "export"):
                channel = connection.channel()
                try:
                    channel.queue_purge(queue)
                except Exception as exc:  # not declared yet: the channel is closed with it
                    if "NOT_FOUND" not in str(exc):
                        raise
    except OSError as exc:
        pytest.fail(f"RabbitMQ at {url.split('@')[-1]} is required (run `make services`): {exc}")
