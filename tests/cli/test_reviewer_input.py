"""Exports never destroy reviewer input: a review workbook holding levels a reviewer filled
in and never imported is left as it is, and the new one is written beside it."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from cenr.cli import main
from tests.conftest import demo_rows, write_export
from tests.exporters.conftest import fill_in

N = 6


def _ids(path: Path) -> list[int]:
    return [r[0] for r in load_workbook(path)["Review"].iter_rows(min_row=2, values_only=True)]


def _levels(path: Path) -> list[object]:
    sheet = load_workbook(path)["Review"]
    column = [c.value for c in sheet[1]].index("Reviewer level")
    return [row[column] for row in sheet.iter_rows(min_row=2, values_only=True)]


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    write_export(tmp_path / "inbox" / "export.csv", demo_rows(N))
    return tmp_path / "inbox"


def test_cenr_run_again_keeps_a_filled_in_workbook_byte_for_byte(
    sqlite_service: str, inbox: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`cenr run` twice with the same --out and a reviewer's levels filled in between: the
    filled review.xlsx survives byte for byte, the new workbook is `review (2).xlsx` and the
    summary says so. Once its levels are imported, the next run replaces it as before."""
    out = tmp_path / "out"
    assert main(["run", str(inbox), "--out", str(out)]) == 0
    capsys.readouterr()
    workbook = out / "review.xlsx"
    ids = _ids(workbook)
    fill_in(workbook, workbook, {i: (str(n % 6), "seen", "ana") for n, i in enumerate(ids)})
    filled = workbook.read_bytes()

    assert main(["run", str(inbox), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert workbook.read_bytes() == filled, "the reviewer's workbook was written over"
    beside = out / "review (2).xlsx"
    assert f"export: {beside}" in printed
    assert f"kept: {workbook} holds {N} reviewer level(s) never imported" in printed
    assert _levels(beside) == [None] * N, "the new workbook is a fresh one"

    # a third run: review (2).xlsx holds nothing of a reviewer's, so it is replaced
    assert main(["run", str(inbox), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"export: {beside}" in printed
    assert workbook.read_bytes() == filled
    assert not (out / "review (3).xlsx").exists()

    # imported, the filled workbook is no longer the only copy: the next run replaces it
    assert main(["review", "import", str(workbook)]) == 0
    capsys.readouterr()
    assert main(["run", str(inbox), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"export: {workbook}" in printed
    assert "kept:" not in printed
    assert _levels(workbook) == [None] * N


def test_cenr_export_and_review_next_keep_levels_not_imported(
    sqlite_service: str, inbox: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`cenr export --xlsx FILE` over a workbook whose levels were imported, then one of them
    changed (or one typed that is not a level): kept, the new one beside it; `cenr review
    next --xlsx FILE` over a filled-in workbook of its own too."""
    assert main(["run", str(inbox), "--out", str(tmp_path / "out")]) == 0
    target = tmp_path / "mine.xlsx"
    assert main(["export", "--xlsx", str(target)]) == 0
    ids = _ids(target)
    fill_in(target, target, {ids[0]: ("3", "", "ana"), ids[1]: ("1", "", "ana")})
    assert main(["review", "import", str(target)]) == 0
    capsys.readouterr()

    assert main(["export", "--xlsx", str(target)]) == 0  # all imported: replaced
    assert "kept:" not in capsys.readouterr().out
    assert _levels(target) == [None] * N

    fill_in(target, target, {ids[0]: ("3", "", "ana"), ids[1]: ("4", "", "ana")})
    changed = target.read_bytes()
    assert main(["export", "--xlsx", str(target)]) == 0
    printed = capsys.readouterr().out
    assert target.read_bytes() == changed
    assert f"kept: {target} holds 1 reviewer level(s) never imported" in printed
    assert f"export: {tmp_path / 'mine (2).xlsx'}" in printed

    fill_in(target, target, {ids[0]: ("Level 9", "", "ana")})  # not a level: kept
    assert main(["export", "--xlsx", str(target)]) == 0
    assert f"kept: {target} holds 1 reviewer level(s)" in capsys.readouterr().out

    # `cenr review next --xlsx FILE` writes review workbooks too
    chosen = tmp_path / "next.xlsx"
    assert main(["review", "next", "--n", "3", "--xlsx", str(chosen)]) == 0
    fill_in(chosen, chosen, {_ids(chosen)[0]: ("2", "", "ben")})
    picked = chosen.read_bytes()
    capsys.readouterr()
    assert main(["review", "next", "--n", "3", "--xlsx", str(chosen)]) == 0
    printed = capsys.readouterr().out
    assert chosen.read_bytes() == picked
    assert f"kept: {chosen} holds 1 reviewer level(s) never imported" in printed
    assert f"{tmp_path / 'next (2).xlsx'}: 3 protocol(s)" in printed


def test_a_distributed_export_task_keeps_a_filled_in_workbook(
    sqlite_service: str, inbox: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The export task a worker runs for one workbook of a job (distributed) leaves a
    filled-in workbook where it is and records on the job what it kept and wrote."""
    from schema.database import open_database, session_scope
    from schema.states import JobState
    from schema.tables import Job
    from worker.export import export_job
    from worker.settings import get_settings
    from worker.submit import pipeline_context

    out = tmp_path / "out"
    assert main(["run", str(inbox), "--out", str(out)]) == 0
    workbook = out / "review.xlsx"
    fill_in(workbook, workbook, {_ids(workbook)[0]: ("2", "", "ana")})
    filled = workbook.read_bytes()
    settings = get_settings()
    engine = open_database(settings.resolved_database_url)
    try:
        with session_scope(engine) as session:
            job_id = session.scalars(select(Job.id)).one()
            row = session.get(Job, job_id)
            assert row is not None
            row.status = JobState.RUNNING  # its export step handed out again
            row.exports = []
            row.options = {**(row.options or {}), "export_plan": ["xlsx:0"], "exported": []}
        ctx, _ = pipeline_context(settings, engine)
        export_job(ctx, job_id, {"kind": "xlsx", "parts": [0], "cost": N})
        with session_scope(engine) as session:
            row = session.get(Job, job_id)
            assert row is not None
            assert row.status == JobState.DONE
            assert row.exports == [str(out / "review (2).xlsx")]
            [note] = row.options["kept"]
    finally:
        engine.dispose()
    assert workbook.read_bytes() == filled
    assert note.startswith(f"{workbook} holds 1 reviewer level(s) never imported")
