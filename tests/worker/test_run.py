"""`cenr run`, embedded (SQLite, in-process) and on PostgreSQL: results, failures, re-runs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from cenr.cli import main
from tests.conftest import demo_rows, table_counts, write_export
from tests.worker.files import docx_bytes, encrypted_pdf_bytes, pdf_bytes, zip_bomb_docx
from worker.settings import SizeLimits

GOOD_TEXT = (
    "Study title: Walking groups with the Eastside Tenants Association. The community "
    "advisory board co-designed the intervention, shares governance of the data and "
    "co-authors every publication."
)

TOP_TOKENS_SQL = """
SELECT tw.form, avg(tw.weight) AS mean_weight, count(*) AS n
FROM token_weights tw JOIN predictions p ON p.id = tw.prediction_id
WHERE p.level_code = :level
GROUP BY tw.form HAVING count(*) >= 3
ORDER BY mean_weight DESC LIMIT 20
"""


def readme_sql(starting: str) -> str:
    """docs/database.md's example query that starts with ``starting``, run as written."""
    readme = (Path(__file__).resolve().parents[2] / "docs" / "database.md").read_text()
    for block in readme.split("```sql\n")[1:]:
        query = block.split("```")[0]
        if query.startswith(starting):
            return query.rstrip().rstrip(";")
    raise AssertionError(f"docs/database.md has no SQL example starting {starting!r}")


def make_inbox(root: Path) -> tuple[Path, dict[str, str]]:
    """An inbox of good and bad files; returns it and the reason expected per bad file."""
    inbox = root / "inbox"
    rows = demo_rows(12)
    rows[0]["StudyTitle"] = '=HYPERLINK("http://evil.example","click") community board'
    rows[1]["Protocol ID"] = "../../etc/passwd"  # an ID is data, never a path
    write_export(inbox / "export 2026 Q3.csv", rows)
    (inbox / "garden ü protocol.txt").write_text(GOOD_TEXT, encoding="utf-16")
    (inbox / "nested").mkdir()
    (inbox / "nested" / "clinic.docx").write_bytes(
        docx_bytes("Clinic records review.", "No partners.")
    )
    (inbox / "nested" / "church.pdf").write_bytes(
        pdf_bytes("Church health ministry partners", "recruit members.")
    )
    (inbox / "odd ..name...md").write_text(
        "Partners: the food bank shares results.", encoding="utf-8"
    )
    bad = {
        "empty.txt": "the file is empty",
        "photo.txt": "looks like a binary file",
        "locked.pdf": "password-protected",
        "bomb.docx": "zip bomb",
        "scores.csv": "no text column recognised",
        "huge.txt": "over the limit of 20 MB",
    }
    (inbox / ".DS_Store").write_bytes(b"\x00\x01")  # hidden: skipped, and said so
    (inbox / "empty.txt").write_bytes(b"")
    (inbox / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    (inbox / "locked.pdf").write_bytes(encrypted_pdf_bytes("secret"))
    (inbox / "bomb.docx").write_bytes(zip_bomb_docx(300))
    (inbox / "scores.csv").write_text("ID,Score\n1,3\n", encoding="utf-8")
    with (inbox / "huge.txt").open("wb") as handle:  # 50 MB of text
        handle.write(b"community partners co-lead the study. " * (50 * 2**20 // 38))
    return inbox, bad


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["run", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_run_classifies_good_files_and_names_every_bad_one(
    sqlite_service: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run classifies every good file, names each bad file with its reason, stores a weight per
    token, and writes the three exports without formulas."""
    inbox, bad = make_inbox(tmp_path)
    out_dir = tmp_path / "out"
    status, out, err = run(capsys, str(inbox), "--out", str(out_dir))
    assert status == 1, "a failed file makes the exit status 1"
    assert "Traceback" not in out + err
    good = 12 + 4  # CSV rows + txt + docx + pdf + md
    assert (
        f"{good + len(bad)} protocol(s) from {5 + len(bad)} file(s): {good} done, 6 failed" in out
    )
    assert "skipped 1 hidden file(s): .DS_Store" in err
    failed_lines = out.split("failed (6):")[1]
    for name, reason in bad.items():
        assert any(name in line and reason in line for line in failed_lines.splitlines()), name

    counts = table_counts(sqlite_service)
    assert counts["documents"] == good
    assert counts["predictions"] == good
    assert counts["token_weights"] == counts["tokens_expected"] > 0

    with (out_dir / "predictions.csv").open(encoding="utf-8-sig") as handle:
        exported = list(csv.DictReader(handle))
    assert len(exported) == good + len(bad)
    assert {r["status"] for r in exported} == {"done", "failed"}
    assert not any(v.startswith("=") for r in exported for v in r.values()), "no formulas"
    assert any(r["file"] == "garden ü protocol.txt" and r["level"] for r in exported)
    assert any(r["file"] == "nested/church.pdf" for r in exported)
    assert any(r["protocol_id"] == "../../etc/passwd" and r["level"] for r in exported)
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "predictions.csv",
        "review-html.zip",
        "review.xlsx",
    ]


def test_paths_with_dot_dot_and_odd_names_are_processed(
    sqlite_service: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An inbox path through `..` and a file with an accented, spaced name are processed, and the
    file keeps its name in the export."""
    inbox = tmp_path / "inbox"
    (inbox / "sub").mkdir(parents=True)
    (inbox / "ünïcode & spaces (final) v2.txt").write_text(GOOD_TEXT, encoding="cp1252")
    status, out, _ = run(capsys, str(inbox / "sub" / ".."), "--out", str(tmp_path / "out"))
    assert status == 0, out
    with (tmp_path / "out" / "predictions.csv").open(encoding="utf-8-sig") as handle:
        [row] = list(csv.DictReader(handle))
    assert row["file"] == "ünïcode & spaces (final) v2.txt"
    assert row["status"] == "done"


def test_rerun_writes_nothing_twice_and_same_content_is_one_document(
    sqlite_service: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two copies of one file, run twice, store each document, prediction and token weight once,
    while every job item is done."""
    inbox = tmp_path / "inbox"
    rows = demo_rows(6)
    write_export(inbox / "a.csv", rows)
    write_export(inbox / "copy of a.csv", rows)  # the same protocols again
    status, out, _ = run(capsys, str(inbox), "--out", str(tmp_path / "out1"))
    assert status == 0, out
    first = table_counts(sqlite_service)
    assert first["documents"] == first["predictions"] == 6
    assert first["job_items"] == 12
    status, out, _ = run(capsys, str(inbox), "--out", str(tmp_path / "out2"))
    assert status == 0, out
    second = table_counts(sqlite_service)
    assert second["jobs"] == 2
    assert second["job_items"] == 24
    for table in ("documents", "predictions", "token_weights"):
        assert second[table] == first[table], table
    assert "12 done, 0 failed" in out

    assert main(["status", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["total"] == report["done"] == 12
    assert report["queued"] == report["running"] == report["failed"] == 0


def test_run_on_postgresql_stores_weights_queryable_in_sql(
    postgres_service: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run on PostgreSQL stores token weights that SQL can rank per level, with spans that point
    into the original text."""
    inbox = tmp_path / "inbox"
    write_export(inbox / "export.csv", demo_rows(30))
    status, out, _ = run(capsys, str(inbox), "--out", str(tmp_path / "out"))
    assert status == 0, out
    counts = table_counts(postgres_service)
    assert counts["predictions"] == 30
    assert counts["token_weights"] == counts["tokens_expected"]
    engine = create_engine(postgres_service)
    with engine.connect() as connection:
        level = connection.execute(
            text(
                "SELECT level_code FROM predictions GROUP BY level_code "
                "ORDER BY count(*) DESC, level_code LIMIT 1"
            )
        ).scalar_one()
        top = connection.execute(text(TOP_TOKENS_SQL), {"level": level}).all()
        spans = connection.execute(
            text("SELECT d.fields, tw.field, tw.char_start, tw.char_end, tw.token "
                 "FROM token_weights tw JOIN predictions p ON p.id = tw.prediction_id "
                 "JOIN documents d ON d.id = p.document_id LIMIT 200")
        ).all()  # fmt: skip
        evidence = connection.execute(
            text(readme_sql("SELECT ef.field").replace("'5'", ":level")), {"level": level}
        ).all()
        sums = connection.execute(
            text(
                "SELECT p.id, sum(ef.share), count(*) FROM predictions p "
                "JOIN evidence_fields ef ON ef.prediction_id = p.id GROUP BY p.id"
            )
        ).all()
        passages = connection.execute(
            text("SELECT d.fields, ep.field, ep.char_start, ep.char_end, ep.text, ep.weight "
                 "FROM evidence_passages ep JOIN predictions p ON p.id = ep.prediction_id "
                 "JOIN documents d ON d.id = p.document_id")
        ).all()  # fmt: skip
    engine.dispose()
    assert 0 < len(top) <= 20
    assert all(0 < w <= 1 for _, w, _ in top)
    for fields, field, start, end, token in spans:  # spans point into the original text
        assert fields[field][start:end] == token
    # evidence by field: every prediction, a row per field (5 columns), shares summing to 1
    assert len(sums) == 30
    assert all(n == 5 and abs(total - 1) < 1e-4 for _, total, n in sums)
    fields_by_share = [field for field, _, _ in evidence]
    assert len(fields_by_share) == 5
    assert [s for _, s, _ in evidence] == sorted((s for _, s, _ in evidence), reverse=True)
    assert len(passages) >= 30
    for fields, field, start, end, quoted, weight in passages:
        assert " ".join(fields[field][start:end].split()).strip(". ")[:40] in quoted
        assert 0 < weight <= 1


def test_run_refuses_a_database_whose_schema_is_behind(
    trained_home: Path, postgres_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """`cenr run`, `cenr status` and `cenr worker` refuse a database whose schema is not migrated
    and say to run `cenr db upgrade`."""
    monkeypatch.setenv("CENR_HOME", str(trained_home))
    monkeypatch.setenv("CENR_DATABASE_URL", postgres_url)
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "a.txt").write_text(GOOD_TEXT)
    for argv in (["run", str(tmp_path / "inbox"), "--out", str(tmp_path)], ["status"]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert "schema is at nothing" in err
        assert "run `cenr db upgrade`" in err
    monkeypatch.setenv("CENR_BROKER_URL", "redis://127.0.0.1:6379/15")
    assert main(["worker"]) == 1
    assert "cenr db upgrade" in capsys.readouterr().err


def test_run_errors_are_one_line(
    sqlite_service: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run on a missing folder, with an unknown model or on an empty folder fails with a `cenr:
    error:` message saying why."""
    for argv, message in (
        ([str(tmp_path / "nope"), "--out", str(tmp_path)], "not a folder"),
        (
            [str(tmp_path), "--out", str(tmp_path / "o"), "--model", "ghost"],
            "no registered model named 'ghost'",
        ),
    ):
        status, _, err = run(capsys, *argv)
        assert status == 1
        assert err.startswith("cenr: error: ")
        assert message in err
    empty = tmp_path / "empty"
    empty.mkdir()
    status, _, err = run(capsys, str(empty), "--out", str(tmp_path / "o"))
    assert status == 1
    assert "no files to process" in err


def test_submit_without_a_broker_says_what_to_do(
    sqlite_service: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`cenr submit` without a broker fails saying to set CENR_BROKER_URL or use `cenr run`."""
    assert main(["submit", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "set CENR_BROKER_URL" in err
    assert "cenr run" in err


def test_a_worker_without_the_model_fails_the_items_with_the_reason(
    sqlite_service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker host whose CENR_HOME lacks the job's model, which is not in the model
    store either (registered before the store existed): items fail, the job ends."""
    from schema.database import open_database, session_scope
    from worker.context import Context
    from worker.dispatch import start_job
    from worker.jobs import Submission, create_job, resolve_model
    from worker.results import job_errors, job_status
    from worker.settings import get_settings
    from worker.steps import LocalRunner

    (tmp_path / "a.txt").write_text(GOOD_TEXT)
    engine = open_database(sqlite_service)
    with session_scope(engine) as session:
        job = create_job(
            session, [Submission(tmp_path / "a.txt", "a.txt")], resolve_model(session, None),
            tmp_path / "out", "submit", {}, SizeLimits(2**20, 2**20),
        )  # fmt: skip
        job_id = job.id
        session.execute(text("DELETE FROM model_files"))
    monkeypatch.setenv("CENR_HOME", str(tmp_path / "empty-home"))
    runner = LocalRunner()
    runner.ctx = Context(get_settings(), engine, runner)
    start_job(runner.ctx, job_id)
    runner.drain()
    with session_scope(engine) as session:
        status = job_status(session, job_id)
        errors = job_errors(session, job_id)
    engine.dispose()
    assert (status.status, status.done, status.failed) == ("done", 0, 1)
    assert "model tiny is not in the model store and not under" in errors[0]
    assert "`cenr register tiny`" in errors[0]


def test_run_with_model_files_missing_fails_before_submitting(
    sqlite_service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """A run whose model is neither in the model store nor on disk fails before any job is
    created."""
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "a.txt").write_text(GOOD_TEXT)
    engine = create_engine(sqlite_service)
    with engine.begin() as connection:  # registered before the model store existed
        connection.execute(text("DELETE FROM model_files"))
    engine.dispose()
    monkeypatch.setenv("CENR_HOME", str(tmp_path / "empty-home"))
    status, _, err = run(capsys, str(tmp_path / "inbox"), "--out", str(tmp_path / "out"))
    assert status == 1
    assert "model tiny is not in the model store and not under" in err
    assert table_counts(sqlite_service)["jobs"] == 0


def test_an_export_folder_that_cannot_be_written_is_a_reported_failure(
    sqlite_service: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """When the export folder cannot be written, the run reports it and exits 1, while the job
    itself is done."""
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "a.txt").write_text(GOOD_TEXT)
    (tmp_path / "taken").write_text("a file where the export folder should go")
    status, out, _ = run(capsys, str(tmp_path / "inbox"), "--out", str(tmp_path / "taken"))
    assert status == 1
    assert "1 done, 0 failed" in out
    assert f"cannot write the exports to {tmp_path / 'taken'}" in out
    assert main(["status"]) == 0
    assert "[done]" in capsys.readouterr().out


def test_status_without_jobs(sqlite_service: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`cenr status` with no jobs fails saying there are none yet."""
    assert main(["status"]) == 1
    assert "no jobs yet" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["requeue", "ghost"], "no job 'ghost'"),
        (["status", "ghost"], "no job 'ghost'"),
        (["review", "agreement", "ghost"], "no job 'ghost'"),
        (["worker"], "`cenr worker` needs CENR_BROKER_URL"),
        (["watch", "/nonexistent/inbox"], "/nonexistent/inbox: not a folder"),
    ],
)
def test_service_commands_fail_in_one_line(
    sqlite_service: str, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Service commands given an unknown job, no broker or a missing folder fail with a one-line
    error."""
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("cenr: error: ")
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_worker_refuses_unknown_queues(
    sqlite_service: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`cenr worker` refuses an unknown queue name and lists the valid ones."""
    monkeypatch.setenv("CENR_BROKER_URL", "redis://127.0.0.1:6379/15")
    assert main(["worker", "--queues", "classify,bogus"]) == 1
    assert "unknown queue(s) bogus; use extract, classify, export" in capsys.readouterr().err
