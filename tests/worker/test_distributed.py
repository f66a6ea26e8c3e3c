"""The distributed path for real: PostgreSQL, Redis and `cenr worker` processes.

Submitting, following and re-running jobs through workers, bad files among good ones,
and a broker that is down at submission. The faults: tests/worker/test_faults.py.
"""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest

from cenr.cli import main
from tests.conftest import demo_rows, last_json_line, table_counts, write_export
from tests.worker.cluster import CENR, item_counts, job_state, wait_until
from tests.worker.conftest import Cluster, submit
from tests.worker.files import encrypted_pdf_bytes, zip_bomb_docx


def test_submit_status_and_rerun(
    cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A submitted job finishes with its bad files failed alone and the worker still running, and
    resubmitting the same content stores no new rows."""
    worker = cluster.start_worker()
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
    failures = [line for line in out.splitlines() if line.startswith("  failed: ")]
    assert len(failures) == 4
    assert any("empty.txt" in line and "the file is empty" in line for line in failures)
    assert (report["total"], report["done"], report["failed"]) == (24, 20, 4)
    assert worker.alive
    assert report["queued"] == report["running"] == 0
    assert Path(report["exports"][0]).is_file()
    first = table_counts(cluster.url)
    assert first["predictions"] == 20
    assert first["token_weights"] == first["tokens_expected"]

    again = submit(capsys, inbox / "export.csv")  # same content, same model
    assert main(["status", again, "--wait", "--timeout", "180", "--json"]) == 0
    assert last_json_line(capsys.readouterr().out)["done"] == 20
    second = table_counts(cluster.url)
    for table in ("documents", "predictions", "token_weights"):
        assert second[table] == first[table], table


def test_broker_down_at_submit_keeps_the_job_for_requeue(
    cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """When the broker is unreachable at submit, the job is kept and the error names the `cenr
    requeue` command, which later finishes it."""
    write_export(tmp_path / "export.csv", demo_rows(5, start=150))
    down = {**cluster.env, "CENR_BROKER_URL": "redis://127.0.0.1:1/0"}  # nothing there
    result = subprocess.run(  # a process of its own: the broker URL is read at start
        [CENR, "submit", str(tmp_path / "export.csv")],
        env=down, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    err = result.stderr.strip().splitlines()[-1]
    assert err.startswith("cenr: error: cannot reach the broker")
    job = err.split("job ")[1].split()[0]
    assert f"`cenr requeue {job}`" in err
    assert job_state(cluster.url, job) == "created"

    cluster.start_worker()
    assert main(["requeue", job]) == 0
    assert "1 step(s) queued again" in capsys.readouterr().out
    assert wait_until(lambda: job_state(cluster.url, job) == "done", 120)
    assert item_counts(cluster.url, job) == {"done": 5}


def test_a_jobs_exports_are_shared_by_the_workers_one_task_a_file(
    cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Distributed, the export is one task per file (the CSV, the bundle, workbooks of about
    CENR_EXPORT_TASK_PROTOCOLS protocols): each written once, by either worker, the job done
    when the last is, its exports listed in order."""
    from sqlalchemy import create_engine, text

    # one process each, the model loaded first: four on two cores ran past the test's 5 s
    # limit and failed protocols
    cluster.set(CENR_PER_WORKBOOK="5", CENR_EXPORT_TASK_PROTOCOLS="10",
                CENR_WORKER_CONCURRENCY="1")  # fmt: skip
    workers = [cluster.start_worker(ready="model tiny loaded") for _ in range(2)]
    write_export(tmp_path / "export.csv", demo_rows(30))
    job = submit(capsys, tmp_path / "export.csv")
    assert wait_until(lambda: job_state(cluster.url, job) == "done", 240), [
        w.output()[-2000:] for w in workers
    ]
    assert item_counts(cluster.url, job) == {"done": 30}
    engine = create_engine(cluster.url)
    with engine.connect() as connection:
        exports, options = connection.execute(
            text("SELECT exports, options FROM jobs WHERE id = :j"), {"j": job}
        ).one()
    engine.dispose()
    names = [Path(p).name for p in exports]
    workbooks = sorted(f"review-{k}.xlsx" for k in range(1, 7))
    assert names == ["predictions.csv", *workbooks, "review-html.zip"]
    assert all(Path(p).is_file() for p in exports)
    # the last piece made the bundle the reviewer's package: every workbook beside the pages
    with zipfile.ZipFile(exports[-1]) as package:
        packed = sorted(n.split("/", 1)[1] for n in package.namelist() if n.endswith(".xlsx"))
    assert packed == workbooks
    keys = ["csv:0", "html:0", "xlsx:0", "xlsx:2", "xlsx:4"]
    assert sorted(options["export_plan"]) == sorted(options["exported"]) == sorted(keys)
    logged = [line for w in workers for line in w.output().splitlines() if "exported in" in line]
    assert sorted(k for line in logged for k in keys if f": {k} exported" in line) == sorted(keys)
