"""Seconds and peak memory of writing the review workbook and the HTML bundle, as the
job grows.

    .venv/bin/python bench/workbook_export.py [--protocols 100 300 1000] [--tokens 2000]
        [--formats xlsx html]

Builds jobs of synthetic classified protocols (``--tokens`` words each, random
attention weights; no model needed) in a SQLite database, then writes each job's review
workbook and HTML bundle, each in a process of its own, and reports the time, that
process's peak resident memory (the interpreter and libraries included) and the file
size, and the bundle's time as a share of the workbook's. A flat peak across job sizes
is the point: rows and pages are streamed and a protocol's token weights are read only
while its row or page is written.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from exporters.html_bundle import write_html_bundle  # noqa: E402
from exporters.workbook import write_review_workbook  # noqa: E402
from schema.codebook import default_codebook  # noqa: E402
from schema.database import open_database, session_scope  # noqa: E402
from schema.protocol import Protocol  # noqa: E402
from schema.tables import Job, JobItem, ModelVersion, SourceFile  # noqa: E402
from worker.results import review_data, token_spans  # noqa: E402
from worker.store import document_ids, now, store_predictions  # noqa: E402

WORDS = [
    "community",
    "partners",
    "advisory",
    "board",
    "co-design",
    "survey",
    "clinic",
    "records",
    "residents",
    "church",
    "recruit",
    "share",
    "results",
    "governance",
    "trust",
    "health",
    "study",
    "data",
    "interviews",
    "outreach",
]


def synthetic(n_protocols: int, n_tokens: int, rng: random.Random) -> list[tuple[Protocol, Any]]:
    from classifier.inference import Prediction  # TensorFlow: only in the building process
    from classifier.tokenizer import Token

    codebook = default_codebook()
    made = []
    for i in range(n_protocols):
        words = [rng.choice(WORDS) for _ in range(n_tokens)]
        text = " ".join(words)
        tokens, cursor = [], 0
        for word in words:
            tokens.append(Token(word, word, "Background", cursor, cursor + len(word)))
            cursor += len(word) + 1
        weights = np.random.default_rng(i).dirichlet(np.full(n_tokens, 0.3)).astype(np.float32)
        probabilities = np.random.default_rng(i).dirichlet(np.ones(6)).astype(np.float32)
        level = int(probabilities.argmax())
        protocol = Protocol(
            f"SYN{i:06d}-{uuid.uuid4().hex[:6]}", {"StudyTitle": f"Study {i}", "Background": text}
        )
        made.append(
            (
                protocol,
                Prediction(
                    protocol.protocol_id, level, codebook.levels[level].code,
                    codebook.levels[level].name, probabilities, tokens, weights,
                ),
            )
        )  # fmt: skip
    return made


def build_job(url: str, n_protocols: int, n_tokens: int) -> str:
    engine = open_database(url)
    rng = random.Random(n_protocols)
    with session_scope(engine) as session:
        model = session.query(ModelVersion).first()
        if model is None:
            model = ModelVersion(
                name="synthetic", attention="bahdanau", created_at=now(), path=str(ROOT),
                data_fingerprint="0" * 64, n_training=0, temperature=1.0, metrics={},
            )  # fmt: skip
            session.add(model)
            session.flush()
        job = Job(
            id=uuid.uuid4().hex[:16], created_at=now(), model_version_id=model.id,
            status="done", origin="bench", out_dir=".", options={},
        )  # fmt: skip
        session.add(job)
        source = SourceFile(
            job_id=job.id, path="synthetic.csv", size=0, status="extracted", n_documents=n_protocols
        )
        session.add(source)
        session.flush()
        for start in range(0, n_protocols, 100):
            chunk = synthetic(min(100, n_protocols - start), n_tokens, rng)
            ids = document_ids(session, [p for p, _ in chunk])
            store_predictions(session, model.id, zip(ids, [p for _, p in chunk], strict=True))
            session.add_all(
                JobItem(
                    job_id=job.id,
                    source_file_id=source.id,
                    position=start + k + 2,
                    external_id=p.protocol_id,
                    document_id=d,
                    status="done",
                )
                for k, ((p, _), d) in enumerate(zip(chunk, ids, strict=True))
            )
        job_id = job.id
    engine.dispose()
    return job_id


WRITERS = {"xlsx": write_review_workbook, "html": write_html_bundle}


def export_once(url: str, job_id: str, target: Path) -> None:
    """In a process of its own: write the export, print seconds and peak RSS."""
    write = WRITERS["html" if target.suffix == ".zip" else "xlsx"]
    engine = open_database(url)
    start = time.perf_counter()
    with session_scope(engine) as session:
        data = review_data(session, job_id)
        write(target, data, default_codebook(), lambda p: token_spans(session, p))
    seconds = time.perf_counter() - start
    # VmHWM, not ru_maxrss: the latter keeps the forking parent's size across exec.
    status = Path("/proc/self/status").read_text()
    peak_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))
    print(f"{seconds:.1f} {peak_kb / 1024:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--protocols", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--formats", nargs="+", choices=sorted(WRITERS), default=["xlsx", "html"])
    parser.add_argument(
        "--export-only", nargs=3, metavar=("URL", "JOB", "FILE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.export_only:
        url, job_id, target = args.export_only
        export_once(url, job_id, Path(target))
        return
    folder = Path(tempfile.mkdtemp())
    url = f"sqlite:///{folder / 'bench.sqlite3'}"
    print(
        f"{'protocols':>9} {'tokens':>9} {'export':>6} {'seconds':>8} {'peak RSS MB':>12} "
        f"{'file MB':>8} {'time / xlsx':>11}"
    )
    for n in args.protocols:
        job_id = build_job(url, n, args.tokens)
        seconds_of: dict[str, float] = {}
        for kind in args.formats:
            target = folder / f"review-{n}.{'zip' if kind == 'html' else 'xlsx'}"
            result = subprocess.run(  # a fresh process: its peak RSS is the export's alone
                [sys.executable, __file__, "--export-only", url, job_id, str(target)],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            seconds, peak = (float(v) for v in result.stdout.split())
            seconds_of[kind] = seconds
            ratio = seconds / seconds_of["xlsx"] if "xlsx" in seconds_of else float("nan")
            print(
                f"{n:>9} {n * args.tokens:>9} {kind:>6} {seconds:>8.1f} {peak:>12.0f} "
                f"{target.stat().st_size / 2**20:>8.1f} {ratio:>11.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
