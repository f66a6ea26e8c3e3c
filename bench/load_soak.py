"""Load and soak: thousands of protocols of realistic length through the distributed
pipeline (Redis, PostgreSQL, several `cenr worker` processes), submitted at a steady rate
as a mix of spreadsheets (CSV, XLSX) and folders of single files (TXT, DOCX).

    .venv/bin/python bench/load_soak.py [--docs 5000] [--workers 2] [--rate 20] [--model demo]

Prints: documents per second over time, each worker's memory over time (and its growth
per 1,000 documents after warm-up: flat means no leak per batch), database size per
protocol, the end-to-end latency of a protocol (submission to stored result) at p50 /
p95 / p99, and the integrity check (every protocol done or failed once, one prediction
per document, token rows as many as tokens).

Needs: model ``--model`` in CENR_HOME (``make demo`` trains ``demo``), PostgreSQL and
Redis on 127.0.0.1. The protocols are built from the demo set's sentences (illustrative,
not real protocols), each made unique, with lengths drawn from 150 to 4,000 words.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import redis
from openpyxl import Workbook

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.worker.files import docx_bytes  # noqa: E402

PG_ADMIN = "host=127.0.0.1 port=5432 dbname=test user=postgres"
CENR = str(Path(sys.executable).with_name("cenr"))
FIELDS = ("StudyTitle", "AimsGoals", "Background", "StudyDesign", "Partners")
BROKER = "redis://127.0.0.1:6379/13"
OPTIONS: dict[str, object] = {"text_columns": [], "id_column": ""}


# -- the corpus ----------------------------------------------------------------------
def demo_sentences() -> tuple[list[dict[str, str]], list[str]]:
    with (ROOT / "demo" / "protocols.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    sentences = sorted({s.strip() + "." for r in rows for f in FIELDS
                        for s in r[f].split(".") if len(s.split()) > 3})  # fmt: skip
    return rows, sentences


def make_protocol(rng: random.Random, n: int, rows: list[dict[str, str]],
                  sentences: list[str]) -> dict[str, str]:  # fmt: skip
    """One protocol: a demo row's fields, its background grown to a drawn length."""
    row = rng.choice(rows)
    words = int(min(4000, max(150, rng.lognormvariate(6.6, 0.7))))  # median about 750
    background = [row["Background"]]
    while sum(len(s.split()) for s in background) < words:
        background.append(rng.choice(sentences))
    return {
        "Protocol ID": f"LOAD-{n:06d}",
        "StudyTitle": f"{row['StudyTitle']} (site {n})",
        "AimsGoals": row["AimsGoals"],
        "Background": " ".join(background),
        "StudyDesign": row["StudyDesign"],
        "Partners": row["Partners"],
    }


def as_text(protocol: dict[str, str]) -> str:
    return "\n\n".join(f"{name}: {protocol[name]}" for name in FIELDS)


def write_unit(folder: Path, kind: str, protocols: list[dict[str, str]]) -> Path:
    """One submission: a CSV or XLSX export, or a folder of TXT or DOCX files."""
    folder.mkdir(parents=True)
    header = ["Protocol ID", *FIELDS]
    if kind == "csv":
        path = folder / "export.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=header)
            writer.writeheader()
            writer.writerows(protocols)
        return path
    if kind == "xlsx":
        book = Workbook(write_only=True)
        sheet = book.create_sheet("Protocols")
        sheet.append(header)
        for p in protocols:
            sheet.append([p[h] for h in header])
        path = folder / "export.xlsx"
        book.save(path)
        return path
    for p in protocols:
        name = folder / f"{p['Protocol ID']}.{kind}"
        if kind == "txt":
            name.write_text(as_text(p), encoding="utf-8")
        else:
            name.write_bytes(docx_bytes(*as_text(p).split("\n\n")))
    return folder


# -- processes -----------------------------------------------------------------------
def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants, in MB (from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/statm") as handle:
                rss[int(entry)] = int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += rss.get(current, 0)
        todo.extend(children.get(current, []))
    return total / 2**20


@dataclass
class Sample:
    seconds: float
    finished: int
    rss: list[float] = field(default_factory=list)


def scalar(connection: psycopg.Connection, sql: str) -> Any:
    row = connection.execute(sql).fetchone()
    assert row is not None, sql
    return row[0]


def finished_count(connection: psycopg.Connection) -> int:
    return int(
        scalar(connection, "SELECT count(*) FROM job_items WHERE status IN ('done', 'failed')")
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def growth_per_1000(samples: list[Sample], worker: int, total: int) -> tuple[float, float, float]:
    """Memory after warm-up (first 20% of documents): first value, last value, and the
    least-squares slope in MB per 1,000 documents."""
    points = [(s.finished, s.rss[worker]) for s in samples if s.finished >= 0.2 * total]
    if len(points) < 3:
        return float("nan"), float("nan"), float("nan")
    xs, ys = zip(*points, strict=True)
    slope = statistics.linear_regression(xs, ys).slope * 1000
    return ys[0], ys[-1], slope


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2, help="`cenr worker` processes")
    parser.add_argument("--rate", type=float, default=20.0, help="documents submitted per second")
    parser.add_argument("--unit", type=int, default=50, help="protocols per submission")
    parser.add_argument("--model", default="demo")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    name = f"cenr_load_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    redis.Redis.from_url(BROKER).flushdb()
    os.environ.update(CENR_DATABASE_URL=url, CENR_BROKER_URL=BROKER)
    from schema.database import open_database, upgrade
    from schema.errors import QueueFull
    from worker.settings import get_settings
    from worker.submit import pipeline_context, queue_job, submit_paths

    settings = get_settings()
    env = dict(os.environ)
    workers: list[subprocess.Popen[bytes]] = []
    logs = Path(tempfile.mkdtemp(prefix="cenr-load-"))
    print(f"database {name}, logs in {logs}", flush=True)
    try:
        upgrade(url)
        subprocess.run([CENR, "register", args.model], env=env, check=True)
        for n in range(args.workers):
            log = (logs / f"worker{n}.log").open("wb")
            workers.append(subprocess.Popen(
                [CENR, "worker", "--concurrency", "1", "--loglevel", "INFO",
                 "--hostname", f"load{n}@%h"], env=env, stdout=log, stderr=log,
            ))  # fmt: skip
        for n in range(args.workers):
            deadline = time.monotonic() + 180
            while f"model {args.model} loaded" not in (logs / f"worker{n}.log").read_text():
                assert time.monotonic() < deadline, f"worker {n} did not start: see {logs}"
                time.sleep(0.5)

        rng = random.Random(args.seed)
        rows, sentences = demo_sentences()
        kinds = ["csv", "txt", "xlsx", "docx"]
        units: list[Path] = []
        made = 0
        while made < args.docs:
            size = min(args.unit, args.docs - made)
            batch = [make_protocol(rng, made + i, rows, sentences) for i in range(size)]
            units.append(write_unit(logs / "corpus" / f"u{len(units):04d}",
                                    kinds[len(units) % 4], batch))  # fmt: skip
            made += size
        print(f"{args.docs} protocols in {len(units)} submissions (csv/txt/xlsx/docx)", flush=True)

        monitor = psycopg.connect(url.replace("+psycopg", ""), autocommit=True)
        size_before = scalar(monitor, "SELECT pg_database_size(current_database())")
        engine = open_database(url)
        ctx, _ = pipeline_context(settings, engine)
        samples: list[Sample] = []
        start = time.monotonic()
        refused = 0
        submitted = threading.Event()

        def submit_all() -> None:
            nonlocal refused
            for n, unit in enumerate(units):
                due = start + n * args.unit / args.rate
                time.sleep(max(0.0, due - time.monotonic()))
                while True:
                    try:
                        job = submit_paths(settings, engine, [unit], args.model,
                                           logs / "out" / unit.name, "submit", OPTIONS)  # fmt: skip
                        break
                    except QueueFull:
                        refused += 1
                        time.sleep(2)
                queue_job(ctx, job)
            submitted.set()

        submitter = threading.Thread(target=submit_all, daemon=True)
        submitter.start()
        while True:
            samples.append(Sample(time.monotonic() - start, finished_count(monitor),
                                  [tree_rss_mb(w.pid) for w in workers]))  # fmt: skip
            jobs_left = scalar(monitor, "SELECT count(*) FROM jobs WHERE status <> 'done'")
            if submitted.is_set() and jobs_left == 0:
                break
            assert all(w.poll() is None for w in workers), f"a worker died: see {logs}"
            time.sleep(5)
        elapsed = time.monotonic() - start

        # -- figures ---------------------------------------------------------------------
        statuses: dict[str, int] = dict(monitor.execute(
            "SELECT status, count(*) FROM job_items GROUP BY status").fetchall())  # fmt: skip
        counts = {t: scalar(monitor, f"SELECT count(*) FROM {t}")  # noqa: S608
                  for t in ("documents", "predictions", "token_weights")}  # fmt: skip
        tokens = int(scalar(monitor, "SELECT sum(n_tokens) FROM predictions"))
        latency = [float(r[0]) for r in monitor.execute(
            "SELECT extract(epoch FROM i.finished_at - j.created_at) FROM job_items i "
            "JOIN jobs j ON j.id = i.job_id WHERE i.status = 'done'").fetchall()]  # fmt: skip
        size_after = scalar(monitor, "SELECT pg_database_size(current_database())")
        tables = monitor.execute(
            "SELECT relname, pg_total_relation_size(relid) FROM pg_stat_user_tables "
            "ORDER BY 2 DESC LIMIT 5").fetchall()  # fmt: skip
        monitor.close()
        engine.dispose()
        total = args.docs

        print(f"\n{total} protocols, {tokens} tokens, {elapsed:.0f} s, "
              f"{total / elapsed:.1f} docs/s overall; submissions refused by backpressure: "
              f"{refused}")  # fmt: skip
        print("\ntime (s)  finished  docs/s (last 30 s)  " +
              "  ".join(f"worker{n} MB" for n in range(args.workers)))  # fmt: skip
        window = 30.0
        shown = 0.0
        for i, s in enumerate(samples):
            if s.seconds < shown and i != len(samples) - 1:
                continue
            shown = s.seconds + window
            back = next((p for p in samples if p.seconds >= s.seconds - window), samples[0])
            rate = (s.finished - back.finished) / max(1e-9, s.seconds - back.seconds)
            print(f"{s.seconds:8.0f}  {s.finished:8d}  {rate:18.1f}  " +
                  "  ".join(f"{m:10.0f}" for m in s.rss))  # fmt: skip
        print("\nworker memory after warm-up (first 20% of documents):")
        memory = []
        for n in range(args.workers):
            first, last, slope = growth_per_1000(samples, n, total)
            memory.append({"first_mb": first, "last_mb": last, "mb_per_1000_docs": slope})
            print(f"  worker{n}: {first:.0f} MB -> {last:.0f} MB, "
                  f"slope {slope:+.1f} MB per 1,000 documents")  # fmt: skip
        db_bytes = size_after - size_before
        print(f"\ndatabase: {db_bytes / 2**20:.1f} MB for {total} protocols = "
              f"{db_bytes / total / 1024:.1f} KB per protocol "
              f"({db_bytes / max(1, tokens):.0f} bytes per token)")  # fmt: skip
        for table, size in tables:
            print(f"  {table:18s} {size / 2**20:8.1f} MB")
        p50, p95, p99 = (percentile(latency, q) for q in (50, 95, 99))
        print(f"\nend-to-end latency (submitted -> stored): p50 {p50:.1f} s, p95 {p95:.1f} s, "
              f"p99 {p99:.1f} s, max {max(latency):.1f} s")  # fmt: skip
        ok = (statuses == {"done": total} and counts["documents"] == counts["predictions"] == total
              and counts["token_weights"] == tokens)  # fmt: skip
        print(f"\nintegrity: items {statuses}, {counts}: {'OK' if ok else 'MISMATCH'}")
        if args.json:
            args.json.write_text(json.dumps({
                "docs": total, "tokens": tokens, "seconds": elapsed, "refused": refused,
                "docs_per_second": total / elapsed, "memory": memory,
                "db_kb_per_protocol": db_bytes / total / 1024,
                "latency": {"p50": p50, "p95": p95, "p99": p99}, "integrity_ok": ok,
                "timeline": [s.__dict__ for s in samples],
            }, indent=1))  # fmt: skip
        if not ok:
            sys.exit(1)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=60)
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
