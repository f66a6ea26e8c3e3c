"""Every exporter fed the read model (schema.views) built by hand: no trained model, no
database, no TensorFlow. The quick inner loop for exporter work (`make check`)."""

from __future__ import annotations

import csv
import subprocess
import sys
import zipfile
from pathlib import Path

from openpyxl import load_workbook

from exporters.discussion import write_discussion_workbook
from exporters.html_bundle import write_html_bundle
from exporters.results_csv import write_results
from exporters.workbook import write_review_workbook
from schema.codebook import default_codebook
from schema.views import DiscussionData, DiscussionRow, ResultRow, ReviewData, ReviewRow, TokenSpan
from tests.conftest import ROOT
from tests.security.test_injection import check_workbook

FORMULA = '=HYPERLINK("http://evil.example","click")'
MARKUP = "<script>window.pwned=1</script>"


def _row(item: int, text: str, level: int, confidence: float) -> tuple[ReviewRow, list[TokenSpan]]:
    spans, at = [], 0
    for position, word in enumerate(text.split()):
        start = text.index(word, at)
        at = start + len(word)
        spans.append(TokenSpan(position, word, "Partners", start, at, 0.5 if position == 0 else
                               0.5 / max(1, len(text.split()) - 1), None))  # fmt: skip
    probabilities = [0.02] * 6
    probabilities[level] = 1 - 0.02 * 5
    row = ReviewRow(
        item_id=item, prediction_id=100 + item, protocol_id=f"P-{item}", file="export.csv",
        fields={"StudyTitle": f"Study {item}", "Partners": text}, level_index=level,
        level_code=str(level), confidence=confidence, probabilities=probabilities,
        faithfulness=1.5, n_tokens=len(spans), tokens_cut=0, top_tokens=[(spans[0].token, 0.5)],
    )  # fmt: skip
    return row, spans


def _job() -> tuple[ReviewData, dict[int, list[TokenSpan]]]:
    made = [
        _row(1, "community partners co-lead every decision", 5, 0.9),
        _row(2, f"{FORMULA} advisory board meets yearly", 3, 0.4),
        _row(3, f"{MARKUP} clinic staff recruit patients", 2, 0.6),
    ]
    failed = ResultRow(
        file="broken.pdf", position=None, protocol_id="", status="failed", level_code=None,
        confidence=None, probabilities=None, faithfulness=None, tokens_cut=None, top_tokens=[],
        error="broken.pdf: not a readable PDF", fields=None,
    )  # fmt: skip
    data = ReviewData(
        job_id="j1", model="hand-made", model_metrics={}, model_created_at="",
        data_fingerprint="", rows=sorted((r for r, _ in made), key=lambda r: r.confidence),
        failures=[failed], reviews={1: [("ana", "5")]},
    )  # fmt: skip
    return data, {r.prediction_id: spans for r, spans in made}


def test_exporters_import_neither_tensorflow_nor_a_database() -> None:
    """Importing every exporter loads no TensorFlow, Keras, SQLAlchemy, Celery or worker."""
    probe = (
        "import importlib, pkgutil, sys, exporters\n"
        "for m in pkgutil.iter_modules(exporters.__path__):\n"
        "    importlib.import_module('exporters.' + m.name)\n"
        "heavy = ('tensorflow', 'keras', 'sqlalchemy', 'celery', 'worker')\n"
        "print(sorted(k for k in sys.modules if k.split('.')[0] in heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]", result.stdout


def test_review_workbook_from_views(tmp_path: Path) -> None:
    """The workbook lists the hand-made protocols least certain first, keeps formula-like
    text as text and shades the strongest token."""
    data, spans = _job()
    path = write_review_workbook(tmp_path / "r.xlsx", data, default_codebook(), spans.__getitem__)
    check_workbook(path, [FORMULA, MARKUP])
    review = load_workbook(path)["Review"]
    header = [c.value for c in review[1]]
    ids = [
        row[header.index("Protocol ID")] for row in review.iter_rows(min_row=2, values_only=True)
    ]
    assert ids == ["P-2", "P-3", "P-1"]


def test_html_bundle_from_views(tmp_path: Path) -> None:
    """The bundle has a page per protocol, the failure in the index, and the document's
    markup only escaped."""
    data, spans = _job()
    path = write_html_bundle(tmp_path / "b.zip", data, default_codebook(), spans.__getitem__)
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        index = archive.read("cenr-j1/index.html").decode()
        pages = [archive.read(f"cenr-j1/protocols/{n:05d}.html").decode() for n in (1, 2, 3)]
    assert {f"cenr-j1/protocols/{n:05d}.html" for n in (1, 2, 3)} <= names
    assert "broken.pdf: not a readable PDF" in index
    assert MARKUP not in index + "".join(pages)
    # pages are named by job item: P-3 (item 3) holds the markup, P-1 a reviewer's level
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in pages[2]
    assert "5 (ana)" in pages[0], "the reviewer's level on the protocol's page"


def test_results_csv_from_views(tmp_path: Path) -> None:
    """The CSV has one row per protocol and per failed file, formula-like text defused."""
    data, _ = _job()
    rows = [
        ResultRow(file=r.file, position=1, protocol_id=r.protocol_id, status="done",
                  level_code=r.level_code, confidence=r.confidence,
                  probabilities=r.probabilities, faithfulness=r.faithfulness, tokens_cut=0,
                  top_tokens=r.top_tokens, error=None, fields=r.fields, item_id=r.item_id)
        for r in data.rows
    ] + data.failures  # fmt: skip
    rows[0].protocol_id = FORMULA
    path = write_results(tmp_path / "p.csv", rows)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        read = list(csv.DictReader(handle))
    assert len(read) == 4
    assert not read[0]["protocol_id"].startswith("=")
    assert read[-1]["error"] == "broken.pdf: not a readable PDF"


def test_discussion_workbook_from_views(tmp_path: Path) -> None:
    """The Discussion workbook shows each reviewer's level and rationale as text."""
    row = DiscussionRow(
        item_id=1, protocol_id="P-1", title="Study 1", fields={"Partners": "co-lead"},
        model_level="5", decisions={"ana": ("5", FORMULA), "ben": ("3", "advisory only")},
        adjudication=None,
    )  # fmt: skip
    data = DiscussionData("j1", "hand-made", 1, ["ana", "ben"], [row])
    path = write_discussion_workbook(tmp_path / "d.xlsx", data, default_codebook())
    check_workbook(path, [FORMULA, "advisory only"])
