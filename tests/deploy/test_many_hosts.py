"""Workers on other machines: Redis and PostgreSQL on one host, a worker on each of two
more, each worker with its own empty data folder (the model comes from the store). One
worker host is cut off mid-job; the job still completes, nothing lost or written twice.
A host cut off inside a database transaction has its row locks released within a minute."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import demo_rows, table_counts, write_export
from tests.deploy.hosts import Hosts
from tests.worker.cluster import CENR, Process, item_counts, job_state, wait_until

PG_BIN = (
    Path("/usr/lib/postgresql")
    / (
        sorted(os.listdir("/usr/lib/postgresql"))[-1]
        if Path("/usr/lib/postgresql").is_dir()
        else "-"
    )
    / "bin"
)


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    if os.geteuid() != 0:
        pytest.fail("the many-hosts test makes network namespaces: run the tests as root")
    for tool in ("ip", "runuser", "redis-server"):
        if shutil.which(tool) is None:
            pytest.fail(f"the many-hosts test needs {tool} (apt-get install iproute2 util-linux "
                        "redis-server)")  # fmt: skip
    if not (PG_BIN / "initdb").is_file():
        pytest.fail(f"the many-hosts test needs PostgreSQL's server programs ({PG_BIN}/initdb)")
    network = Hosts(["db", "w1", "w2"]).up()
    yield network
    network.down()


@pytest.fixture
def db_host(hosts: Hosts, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A fresh PostgreSQL and Redis listening on the db host's address only."""
    address = hosts.address("db")
    folder = Path(tempfile.mkdtemp(prefix="cenr-pg-", dir="/tmp"))
    os.chmod(folder, 0o755)  # noqa: S103 (the postgres user must reach its data folder)
    shutil.chown(folder, "postgres", "postgres")
    data = folder / "data"
    as_postgres = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*as_postgres, str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres",
                    "--auth=trust", "-E", "UTF8"], check=True, capture_output=True)  # fmt: skip
    (data / "pg_hba.conf").write_text("local all all trust\nhost all all 10.77.0.0/16 trust\n")
    postgres = Process([
        *hosts.prefix("db"), *as_postgres, str(PG_BIN / "postgres"), "-D", str(data),
        "-c", f"listen_addresses={address}", "-c", f"unix_socket_directories={folder}",
        "-c", "fsync=off", "-c", "log_lock_waits=on",  # the log says who waited for whom
    ], dict(os.environ), tmp_path / "postgres.log", program=None)  # fmt: skip
    broker = Process([
        *hosts.prefix("db"), "redis-server", "--bind", address, "--port", "6379", "--save", "",
        "--appendonly", "no", "--protected-mode", "no",
    ], dict(os.environ), tmp_path / "redis.log", program=None)  # fmt: skip
    postgres.wait_for_output("ready to accept connections", timeout=60)
    broker.wait_for_output("Ready to accept connections", timeout=30)
    yield {
        "CENR_DATABASE_URL": f"postgresql+psycopg://postgres@{address}:5432/postgres",
        "CENR_BROKER_URL": f"redis://{address}:6379/0",
    }
    broker.stop()
    postgres.stop()
    shutil.rmtree(folder, ignore_errors=True)


def test_workers_on_two_hosts_survive_one_host_cut_off(
    hosts: Hosts, db_host: dict[str, str], trained_home: Path, tmp_path: Path
) -> None:
    """When one of two worker hosts is cut off mid-job, the other finishes the job with nothing lost
    or written twice, and each host got the model from the store."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("CENR_")}
    shared = {
        **base,
        **db_host,
        "CENR_CLASSIFY_BATCH": "4",
        "CENR_VISIBILITY_TIMEOUT": "8",
        "CENR_TASK_TIME_LIMIT": "7",
    }

    def cenr(*argv: str, home: Path) -> str:
        done = subprocess.run([CENR, *argv], env={**shared, "CENR_HOME": str(home)},
                              capture_output=True, text=True, check=False, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    # the operator's machine (this namespace) migrates, registers the model, submits
    cenr("db", "upgrade", home=tmp_path / "operator")
    cenr("register", "tiny", home=trained_home)  # its files go into the model store
    workers: dict[str, Process] = {}
    try:
        for name in ("w1", "w2"):  # each host: its own empty data folder, one process
            env = {**shared, "CENR_HOME": str(tmp_path / name)}
            argv = ["worker", "--concurrency", "1", "--hostname", f"{name}@%h"]
            log = tmp_path / f"{name}.log"
            workers[name] = Process(argv, env, log, prefix=hosts.prefix(name))
        for worker in workers.values():
            worker.wait_for_output("ready.", timeout=120)

        write_export(tmp_path / "inbox" / "export.csv", demo_rows(150))
        job = cenr("submit", str(tmp_path / "inbox"), "--out", str(tmp_path / "out"),
                   home=tmp_path / "operator").strip().splitlines()[-1]  # fmt: skip
        url = db_host["CENR_DATABASE_URL"]
        both = wait_until(
            lambda: (
                item_counts(url, job).get("done", 0) >= 30
                and all(
                    "classify" in w.output() and "succeeded" in w.output() for w in workers.values()
                )
            ),
            240,
        )
        assert both, {n: w.output()[-1500:] for n, w in workers.items()}
        hosts.cut("w1")  # mid-job: w1's batch in flight is neither stored nor acknowledged
        at_cut = item_counts(url, job)
        assert at_cut.get("done", 0) < 150, "the job finished before the cut; test proves nothing"

        assert wait_until(lambda: job_state(url, job) == "done", 300), (
            item_counts(url, job),
            workers["w2"].output()[-3000:],
        )
        assert item_counts(url, job) == {"done": 150}, "nothing lost"
        counts = table_counts(url)
        assert counts["documents"] == counts["predictions"] == 150, "nothing written twice"
        assert counts["token_weights"] == counts["tokens_expected"]
        for name in ("w1", "w2"):  # both fetched the model from the store, not a shared folder
            assert (tmp_path / name / "models" / "tiny" / "model.keras").is_file()
        assert workers["w2"].alive
        # 150 protocols: two workbooks of at most CENR_PER_WORKBOOK (100)
        for name in ("review-1.xlsx", "review-2.xlsx", "review-html.zip", "predictions.csv"):
            assert (tmp_path / "out" / name).is_file(), f"{name}: exported by the host still up"
    finally:
        for worker in workers.values():
            worker.kill()  # the cut host's worker could only wait for its broker


HOLD_LOCK = """
import sys, time
from sqlalchemy import text
from schema.database import make_engine
engine = make_engine(sys.argv[1])
with engine.begin() as connection:
    connection.execute(text("UPDATE liveness SET n = n + 1 WHERE id = 1"))
    print("locked", flush=True)
    time.sleep(3600)
"""


DIAGNOSIS = {
    "sessions (pid, client, state, since, waiting on, query)": (
        "SELECT pid, host(client_addr), state, to_char(state_change, 'HH24:MI:SS'), "
        "wait_event_type, left(query, 60) "
        "FROM pg_stat_activity WHERE backend_type = 'client backend'"
    ),
    "row locks (pid, type, mode, granted)": (
        "SELECT pid, locktype, mode, granted FROM pg_locks "
        "WHERE locktype IN ('transactionid', 'tuple')"
    ),
}


def test_a_host_cut_off_mid_transaction_releases_its_locks_within_a_minute(
    hosts: Hosts, db_host: dict[str, str], tmp_path: Path
) -> None:
    """A worker host that drops off the network inside a transaction must not hold its row
    locks for the kernel's two-hour keepalive: make_engine's session settings have the
    server drop it within about 30 s, and another host's update goes through."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from schema.database import make_engine

    # connect_timeout: an unreachable db host is an error in seconds, not minutes of SYNs
    url = f"{db_host['CENR_DATABASE_URL']}?connect_timeout=10"
    engine = make_engine(url)

    def diagnosis() -> str:
        """What the next failure needs: where the kernel sends the db host's traffic, the
        holder's and the server's logs, and who holds or waits for which lock."""
        route = subprocess.run(["ip", "route", "get", hosts.address("db")],
                               capture_output=True, text=True, check=False)  # fmt: skip
        parts = [f"route to the db host: {route.stdout.strip()}"]
        for log in (tmp_path / "holder.log", tmp_path / "postgres.log"):
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else "-"
            parts.append(f"{log.name}:\n{tail}")
        probe = make_engine(url)
        try:
            with probe.connect() as connection:
                connection.execute(text("SET statement_timeout = '5s'"))
                for name, query in DIAGNOSIS.items():
                    rows = connection.execute(text(query)).all()
                    parts.append("\n".join([name, *map(str, rows)]))
        except OperationalError as exc:
            parts.append(f"sessions and locks: cannot connect: {exc}")
        finally:
            probe.dispose()
        return "\n".join(parts)

    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE liveness (id int PRIMARY KEY, n int)"))
            connection.execute(text("INSERT INTO liveness VALUES (1, 0)"))
    except OperationalError as exc:
        pytest.fail(f"the db host's PostgreSQL is unreachable: {exc}\n{diagnosis()}")
    script = tmp_path / "hold_lock.py"
    script.write_text(HOLD_LOCK)
    holder = Process([sys.executable, str(script), url], dict(os.environ), tmp_path / "holder.log",
                     prefix=hosts.prefix("w1"), program=None)  # fmt: skip
    try:
        holder.wait_for_output("locked", timeout=60)
        hosts.cut("w1")
        started = time.monotonic()
        try:
            with engine.begin() as connection:
                connection.execute(text("SET LOCAL lock_timeout = '120s'"))  # fail, don't hang
                connection.execute(text("UPDATE liveness SET n = n + 10 WHERE id = 1"))
        except OperationalError as exc:
            pytest.fail(f"the cut host's lock held for over {time.monotonic() - started:.0f} s: "
                        f"{exc}\n{diagnosis()}")  # fmt: skip
        waited = time.monotonic() - started
        with engine.connect() as connection:
            assert connection.execute(text("SELECT n FROM liveness")).scalar() == 10
        assert waited < 60, f"the cut host's lock held for {waited:.0f} s\n{diagnosis()}"
    finally:
        holder.kill()
        engine.dispose()
