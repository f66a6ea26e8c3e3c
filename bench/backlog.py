"""The annual backlog: a year's protocols through `cenr run` (embedded) and through the
distributed service (Redis or RabbitMQ, PostgreSQL, two workers), per stage.

    .venv/bin/python bench/backlog.py [--docs 6000] [--model demo] [--paths embedded distributed]
        [--broker redis://127.0.0.1:6379/14] [--form csv|files] [--keep DIR]

Builds ``--docs`` protocols of about 2,000 to 4,000 tokens from the demo's phrase banks
(``demo/make_protocols.py``, seeded) as one IRB-style CSV (or ``--form files``, a text
file each), then for each path prints the
seconds per stage (extract, classify without and with the erasure test, store, export)
summed over the steps' own log lines, the tokens per second of classification, the peak
resident memory, the cores busy and the wall time end to end, and the exports' sizes.
The model is ``--model`` in CENR_HOME (`make demo` trains ``demo``). Sums over steps that
overlap (two workers, two export processes) can exceed the wall time.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "demo"))

from make_protocols import generate, write  # noqa: E402

from cenr.cli import main as cenr  # noqa: E402

PG_ADMIN = "host=127.0.0.1 port=5432 dbname=test user=postgres"
CENR = str(Path(sys.executable).with_name("cenr"))
WORDS = (1700, 3300)  # about 2,000 to 4,000 tokens a protocol
STEP_LINES = {
    "extract": re.compile(r"extracted in ([\d.]+) s"),
    "classify": re.compile(r"classified in ([\d.]+) s"),
    "erasure test": re.compile(r"erasure test ([\d.]+) s"),
    "store": re.compile(r"stored in ([\d.]+) s"),
    "export": re.compile(r"exported in ([\d.]+) s"),
}


def build(n: int, folder: Path, form: str = "csv") -> Path:
    """``n`` protocols in ``folder``: one IRB-style CSV (``csv``), or a text file each
    (``files``, the fields as headed paragraphs, as a protocol's document reads)."""
    per_level = {level: n // 6 + (level < n % 6) for level in range(6)}
    rows = generate(per_level, seed=2027, start=5_000_000, words=WORDS)
    if form == "csv":
        path = folder / "year.csv"
        write(path, rows, with_level=False)
        return path
    for row in rows:
        text = "\n\n".join(f"{name}\n{value}" for name, value in row.items()
                           if name not in ("Protocol ID", "Level") and value)  # fmt: skip
        (folder / f"{row['Protocol ID']}.txt").write_text(text, encoding="utf-8")
    return folder


def stage_seconds(lines: str) -> dict[str, float]:
    return {
        stage: sum(float(m.group(1)) for m in pattern.finditer(lines))
        for stage, pattern in STEP_LINES.items()
    }


def tokens_of(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as connection:
        total = connection.execute(text("SELECT coalesce(sum(n_tokens), 0) FROM predictions"))
        value = int(total.scalar_one())
    engine.dispose()
    return value


def report(name: str, seconds: dict[str, float], wall: float, tokens: int, peak: str) -> None:
    print(f"\n{name}: {wall:.1f} s end to end, {tokens:,} tokens, peak RSS {peak}")
    classify = seconds["classify"]
    for stage, value in seconds.items():
        rate = f"  {tokens / value:>9,.0f} tokens/s" if stage == "classify" and value else ""
        print(f"  {stage:<13} {value:>8.1f} s{rate}")
    if classify:
        erasure = seconds["erasure test"]
        print(f"  prediction alone {classify - erasure:.1f} s; "
              f"erasure test {erasure / classify:.0%} of classification")  # fmt: skip


def _cpu_seconds() -> float:
    """User + system time of this process and its waited-for children."""
    own, children = (resource.getrusage(who) for who in
                     (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))  # fmt: skip
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def exports(folder: Path) -> None:
    """The files written, with the largest workbook's size."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    books = [p for p in files if p.suffix == ".xlsx"]
    mb = [p.stat().st_size / 1e6 for p in books]
    total = sum(p.stat().st_size for p in files) / 1e6
    print(f"  exports: {len(files)} files, {len(books)} workbook(s), largest "
          f"{max(mb, default=0):.1f} MB, all {total:.1f} MB")  # fmt: skip


def embedded(inbox: Path, home: str, model: str, out: Path) -> None:
    database = out / "backlog.sqlite3"
    os.environ.update(CENR_HOME=home, CENR_DATABASE_URL=f"sqlite:///{database}")
    os.environ.pop("CENR_BROKER_URL", None)
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler = Collect(level=logging.INFO)
    logging.getLogger("worker").addHandler(handler)
    logging.getLogger("worker").setLevel(logging.INFO)
    assert cenr(["register", model]) == 0
    started, cpu = time.perf_counter(), _cpu_seconds()
    status = cenr(["run", str(inbox), "--out", str(out / "exports"), "--model", model])
    wall, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    logging.getLogger("worker").removeHandler(handler)
    peak = f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB (this process)"
    print(f"cenr run exit status {status}")
    report("embedded (cenr run, SQLite)", stage_seconds("\n".join(lines)), wall,
           tokens_of(f"sqlite:///{database}"), peak)  # fmt: skip
    print(f"  CPU {cpu:.1f} s over {wall:.1f} s: {cpu / wall:.2f} of 2 cores busy on average")
    exports(out / "exports")


def distributed(inbox: Path, home: str, model: str, out: Path, broker: str) -> None:
    name = f"cenr_backlog_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    env = {**os.environ, "CENR_HOME": home, "CENR_DATABASE_URL": url, "CENR_BROKER_URL": broker}
    workers: list[subprocess.Popen[bytes]] = []
    logs = [out / f"worker{i}.log" for i in range(2)]
    try:
        subprocess.run([CENR, "db", "upgrade"], env=env, check=True, capture_output=True)
        subprocess.run([CENR, "register", model], env=env, check=True, capture_output=True)
        for i, log in enumerate(logs):
            argv = [CENR, "worker", "--concurrency", "1", "--hostname", f"backlog{i}@%h"]
            workers.append(subprocess.Popen(argv, env=env, stdout=log.open("wb"),
                                            stderr=subprocess.STDOUT))  # fmt: skip
        while not all("model " in log.read_text(errors="replace") for log in logs):
            time.sleep(0.5)
        started = time.perf_counter()
        command = [CENR, "submit", str(inbox), "--out", str(out / "exports-d"), "--wait"]
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)  # fmt: skip
        wall = time.perf_counter() - started
        peaks = []
        for worker in workers:
            children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text()
            for pid in [str(worker.pid), *children.split()]:
                status = Path(f"/proc/{pid}/status").read_text()
                peaks.append(int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) // 1024)  # type: ignore[union-attr]
        lines = "\n".join(log.read_text(errors="replace") for log in logs)
        report(f"distributed ({broker.split(':')[0]}, PostgreSQL, 2 workers)",
               stage_seconds(lines), wall, tokens_of(url),
               f"{max(peaks):,} MiB (largest worker process)")  # fmt: skip
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(timeout=60)
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=6000)
    parser.add_argument("--model", default="demo")
    parser.add_argument("--home", default=os.environ.get("CENR_HOME", str(ROOT / ".cenr")))
    parser.add_argument("--paths", nargs="+", choices=("embedded", "distributed"),
                        default=["embedded", "distributed"])  # fmt: skip
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--form", choices=("csv", "files"), default="csv",
                        help="one spreadsheet, or a folder of text files")  # fmt: skip
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="write the CSV, database and exports here"
    )
    args = parser.parse_args()
    if not (Path(args.home) / "models" / args.model).is_dir():
        raise SystemExit(f"no model {args.model} in {args.home}/models: run `make demo` first")
    with tempfile.TemporaryDirectory() as folder:
        out = args.keep or Path(folder)
        (out / "inbox").mkdir(parents=True)
        build(args.docs, out / "inbox", args.form)
        size = sum(p.stat().st_size for p in (out / "inbox").iterdir()) / 2**20
        print(f"{args.docs} protocols, {size:.1f} MB as {args.form}, model {args.model}")
        if "embedded" in args.paths:
            embedded(out / "inbox", args.home, args.model, out)
        if "distributed" in args.paths:
            distributed(out / "inbox", args.home, args.model, out, args.broker)


if __name__ == "__main__":
    main()
