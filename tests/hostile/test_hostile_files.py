"""Every hostile file ends as text or as a clear error naming it, within seconds."""

from __future__ import annotations

import re
import time
import tracemalloc

import pytest

from schema.errors import CenrError
from tests.hostile.corpus import ARABIC, CASES, EMOJI, WORDS, ZERO_WIDTH, Case, million_row_csv
from worker.extract.source import Extracted, Limits, extract_source


def _extract(case: Case) -> tuple[list[Extracted] | CenrError, float]:
    raw = case.build()
    started = time.perf_counter()
    try:
        outcome: list[Extracted] | CenrError = extract_source(case.name, raw, case.limits)
    except CenrError as exc:
        outcome = exc
    return outcome, time.perf_counter() - started


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_file_ends_as_text_or_a_clear_error(case: Case) -> None:
    """Each hostile file, within its time budget, gives either its expected text free of NUL and
    lone surrogates or an error naming the file and the problem."""
    outcome, seconds = _extract(case)
    assert seconds < case.seconds, f"{case.name} took {seconds:.1f} s"
    if isinstance(outcome, CenrError):
        assert case.error is not None, f"unexpected error: {outcome}"
        assert re.match(rf"{re.escape(case.name)}: .*{case.error}", str(outcome)), outcome
        return
    assert case.text is not None, f"expected an error, got {outcome}"
    assert all(e.protocol is not None for e in outcome), [e.error for e in outcome]
    values = [e.external_id for e in outcome] + [
        v for e in outcome if e.protocol for v in e.protocol.fields.values()
    ]
    assert case.text in "\n".join(values)
    assert not any("\x00" in v or re.search("[\ud800-\udfff]", v) for v in values)


def test_a_million_rows_are_never_held_in_memory() -> None:
    """A million-row CSV over the row limit is refused while memory use stays below twice the file's
    size."""
    raw = million_row_csv()
    tracemalloc.start()
    try:
        with pytest.raises(CenrError, match="over the limit"):
            extract_source("million.csv", raw, Limits(max_rows=1000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * len(raw), f"peak {peak / 2**20:.0f} MB for a {len(raw) / 2**20:.0f} MB file"


def test_rows_without_words_fail_alone_and_say_why() -> None:
    """A row with only emoji or invisible characters fails on its own with a message naming the row
    and its fields, while the rows with words are kept."""
    raw = (
        "Protocol ID,Abstract,Partners\n"
        f"OK1,{WORDS},\n"
        f"EMOJI,{EMOJI},\n"
        f"INVISIBLE,{ZERO_WIDTH},{ZERO_WIDTH}\n"
        f"RTL,{ARABIC},\n"
    )
    found = extract_source("rows.csv", raw.encode(), Limits())
    assert [(f.external_id, f.protocol is not None) for f in found] == [
        ("OK1", True), ("EMOJI", False), ("INVISIBLE", False), ("RTL", True),
    ]  # fmt: skip
    assert found[1].error == (
        "rows.csv: row 3 (EMOJI) has no words (only emoji, symbols or invisible characters: "
        "nothing to classify) in 'Partners', 'Abstract'"
    )


def test_extracted_nul_and_surrogates_can_be_stored_in_postgres(postgres_url: str) -> None:
    """PostgreSQL text refuses NUL and UTF-8 refuses lone surrogates: neither gets through."""
    from schema.database import make_engine, session_scope, upgrade
    from worker.store import document_ids

    protocols = [
        e.protocol
        for case in CASES
        if case.name in ("nul.jsonl", "nul.xlsx", "surrogate.jsonl")
        for e in extract_source(case.name, case.build(), case.limits)
        if e.protocol
    ]
    assert len(protocols) == 3
    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    try:
        with session_scope(engine) as session:
            assert len(set(document_ids(session, protocols))) == 3
    finally:
        engine.dispose()
