"""Classification tasks are full batches even when a job is many single-document files."""

from __future__ import annotations

from pathlib import Path

import pytest

from schema.database import open_database, session_scope
from tests.conftest import demo_rows, write_export
from worker.results import job_status
from worker.settings import get_settings
from worker.submit import pipeline_context, queue_job, submit_paths


def _classify_task_sizes(url: str, inbox: Path) -> tuple[list[int], tuple[int, int]]:
    """The size of each classification task queued for ``inbox``, and (done, failed)."""
    engine = open_database(url)
    ctx, runner = pipeline_context(get_settings(), engine)
    sizes: list[int] = []
    queue_classify = runner.classify

    def record(job_id: str, item_ids: list[int]) -> None:
        sizes.append(len(item_ids))
        queue_classify(job_id, item_ids)

    runner.classify = record  # type: ignore[method-assign]
    job = submit_paths(get_settings(), engine, [inbox], None, inbox.parent / "out", "run",
                       {"text_columns": [], "id_column": ""})  # fmt: skip
    queue_job(ctx, job)
    runner.drain()
    with session_scope(engine) as session:
        status = job_status(session, job)
    engine.dispose()
    return sizes, (status.done, status.failed)


def test_single_files_wait_for_a_full_task(
    sqlite_service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Single-document files are gathered into classification tasks of the full batch size, and a
    failing file does not hold back the rest."""
    monkeypatch.setenv("CENR_CLASSIFY_BATCH", "4")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for n, row in enumerate(demo_rows(10)):
        (inbox / f"protocol{n:02d}.txt").write_text(row["AimsGoals"] + " " + row["Partners"])
    (inbox / "zz-empty.txt").write_text("")  # the last file fails: the rest still go
    sizes, outcome = _classify_task_sizes(sqlite_service, inbox)
    assert sizes == [4, 4, 2]  # not ten tasks of one document
    assert outcome == (10, 1)


def test_a_table_is_queued_as_soon_as_it_is_extracted(
    sqlite_service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A table's protocols are queued in batches as soon as it is extracted, before a single file
    that follows it."""
    monkeypatch.setenv("CENR_CLASSIFY_BATCH", "4")
    inbox = tmp_path / "inbox"
    write_export(inbox / "a-export.csv", demo_rows(6, start=20))
    (inbox / "b-single.txt").write_text("The tribal council co-leads every stage of the study.")
    sizes, outcome = _classify_task_sizes(sqlite_service, inbox)
    assert sizes == [4, 2, 1]  # the table's six at once, the single file after it
    assert outcome == (7, 0)


def test_tasks_are_bounded_in_documents_and_in_tokens() -> None:
    """Items are packed shortest first into tasks of at most CENR_CLASSIFY_BATCH documents
    and CENR_TASK_TOKENS estimated tokens; a document longer than the bound goes alone."""
    from worker.dispatch import task_batches
    from worker.settings import CHARS_PER_TOKEN, Settings

    settings = Settings(classify_batch=3, task_tokens=1_000, max_tokens=8192)
    short, half, huge = 60 * CHARS_PER_TOKEN, 500 * CHARS_PER_TOKEN, 5_000 * CHARS_PER_TOKEN
    items = [(1, half), (2, short), (3, huge), (4, short), (5, short), (6, short), (7, half)]
    assert task_batches(items, settings) == [[2, 4, 5], [6, 1], [7], [3]]
    assert all(len(b) <= 3 for b in task_batches([(i, 1) for i in range(10)], settings))
    capped = Settings(classify_batch=64, task_tokens=10_000, max_tokens=2_000)
    # a document counts at most the tokens the model reads of it
    assert task_batches([(1, 10**7), (2, 10**7)], capped) == [[1, 2]]
