"""The review workbook: what a reviewer opens to check the model and record their level.

Sheets, in order:

``Review``    one row per protocol, least certain first: level, then its evidence by
              field (each field's share of the weight and the strongest passages,
              stored with the prediction), calibrated confidence, every level's
              probability, faithfulness, the strongest tokens, the text with
              its words coloured by weight, then the reviewer's columns (``Reviewer level``
              is a drop-down of the codebook). Prediction columns are locked, reviewer
              columns editable; header frozen, filters on. Column A (hidden) holds the row
              ID that ``cenr review import`` reads back: reviewers may sort and filter.
``Heatmap``   a row per strongest passage (at most three a protocol): Protocol ID,
              the model's level, the field, the passage's share of the weight and the
              passage, its strongest words coloured (:mod:`exporters.passages_sheet`).
              Every token's weight (every level's, for a label-wise model) is in the
              HTML bundle and the database; a sheet of every token of a year's
              protocols would be millions of rows no one reads.
``Summary``   counts per level with a bar chart, and the colour legend.
``Codebook``  the levels and their definitions (the drop-down's source).
``Model``     the model version, its training-data fingerprint, metrics and calibration.
``Failed``    files and rows that could not be classified, with the reason.
``_cenr``     (hidden) the job ID and format, so an import can check where a file came
              from, and which part of the job it holds and for whom.

A *blind* workbook (a blind round: ``blind=True``) is the same writer leaving out all the
model said: the Review sheet keeps the row ID, Protocol ID, title, the text (uncoloured)
and the reviewer's columns, in Protocol ID order; no Heatmap or Model sheet, no counts
per level; ``_cenr`` says ``blind``, and the import marks the levels so.

A job's protocols may be split over several workbooks (:mod:`exporters.dealing`): each
is written by :class:`ReviewWorkbook` from its own rows, and says which part it is.

Weights are made comparable across protocols of any length by scaling with the number of
tokens: ``relative = weight x tokens``, so 1x is what every token would get from an even
spread. One scale of six shades is used everywhere. Excel's limits are handled rather
than hit: text is cut at 32,767 characters with a visible marker, control characters are
removed, text that starts like a formula is stored as text, and the Heatmap sheet stops
short of the row limit with a note. The workbook is written in openpyxl's write-only
mode, row by row; a protocol's tokens are read from the database only while its row is
written, so memory does not grow with the size of the job's text.
"""

from __future__ import annotations

import copy
import functools
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Color
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.xml.functions import Element, SubElement, whitespace

from exporters.dealing import Share, deal
from exporters.evidence import evidence_for
from exporters.files import write_zip_atomically
from exporters.model_card import model_card, write_model_sheet
from exporters.passages_sheet import PassagesSheet
from exporters.scale import FONTS, legend_rows, shade
from exporters.sheets import (
    MAX_CELL,
    StyledCells,
    clean,
    fit_to_width,
    level_choice,
    lock_all_but_editable,
    set_widths,
    write_codebook_sheet,
    write_identity_sheet,
)
from schema.codebook import Codebook
from schema.faithfulness import EXPLANATION as FAITHFULNESS_EXPLANATION
from schema.views import ReviewData, ReviewRow, TokenSpan

FORMAT = "cenr-review/1"
EXCEL_ROWS = 1_048_576
ROW_HEIGHT = 120  # points: about eight lines of a protocol's text, the rest scrolls in the cell
BLIND_NOTE = (
    "A blind round: the protocol text alone, nothing the model said. Give your own level "
    "in Reviewer level, and why in Rationale."
)


PLAIN = -1  # the font of a blind workbook's text: black, whatever the weights


def rich_text(
    fields: dict[str, str], spans: Sequence[TokenSpan], n_tokens: int, plain: bool = False
) -> CellRichText:
    """The protocol's fields, each word's font coloured (and the strongest bold) by weight;
    ``plain``: all of it black (a blind workbook, with no spans)."""
    by_field: dict[str, list[TokenSpan]] = {}
    for span in spans:
        by_field.setdefault(span.field, []).append(span)
    pieces: list[tuple[int | None, str]] = []  # (shade or None for headings, text)
    for name, value in fields.items():
        if not value:
            continue
        text = clean(value)
        pieces.append((None, f"{name}: " if not pieces else f"\n\n{name}: "))
        cursor, current = 0, PLAIN if plain else 0
        for span in sorted(by_field.get(name, []), key=lambda s: s.start):
            if span.start < cursor or span.end > len(text):
                continue
            pieces.append((current, text[cursor : span.start]))  # gap keeps the last shade
            current = shade(span.weight * n_tokens)
            pieces.append((current, text[span.start : span.end]))
            cursor = span.end
        pieces.append((current, text[cursor:]))
    return _runs(pieces)


@functools.cache
def _inline_font(level: int | None) -> InlineFont:
    """One font object per shade, shared by every run (building them is not cheap)."""
    if level is None:
        return InlineFont(b=True)
    if level == PLAIN:
        return InlineFont(color=Color("000000"))
    return InlineFont(color=Color(FONTS[level]), b=level >= 4 or None)


class _RichText(CellRichText):
    """A cell's runs, written with one prepared ``<rPr>`` per font.

    openpyxl's own ``to_tree`` serialises every run's font through its descriptors: for
    protocols of thousands of words that was 40% of the workbook's time. The XML is the
    same; every run here is a :class:`TextBlock` (see :func:`_runs`)."""

    def to_tree(self) -> Any:
        container = Element("is")
        for block in self:
            assert isinstance(block, TextBlock)
            run = SubElement(container, "r")
            run.append(copy.deepcopy(_font_tree(block.font)))
            text = SubElement(run, "t")
            text.text = block.text
            whitespace(text)
        return container


_MARKER_FONT = InlineFont(i=True, color=Color("000000"))
_FONT_TREES: dict[int, tuple[InlineFont, Any]] = {}


def _font_tree(font: InlineFont) -> Any:
    """The ``<rPr>`` of a font, built once per font object (fonts are shared by shade)."""
    held = _FONT_TREES.get(id(font))
    if held is None or held[0] is not font:
        held = _FONT_TREES[id(font)] = (font, font.to_tree(tagname="rPr"))
    return held[1]


def _runs(pieces: list[tuple[int | None, str]]) -> CellRichText:
    """Merge neighbours of one shade, cut at the cell limit with a visible marker."""
    merged: list[list[Any]] = []
    for level, text in pieces:
        if not text:
            continue
        if merged and merged[-1][0] == level:
            merged[-1][1] += text
        else:
            merged.append([level, text])
    total = sum(len(text) for _, text in merged)
    marker = f" [... cut: the text has {total} characters, a cell holds {MAX_CELL}]"
    budget = MAX_CELL - len(marker) if total > MAX_CELL else MAX_CELL
    runs: list[TextBlock] = []
    for level, text in merged:
        if budget <= 0:
            break
        text = text[:budget]
        budget -= len(text)
        runs.append(TextBlock(_inline_font(level), text))
    if total > MAX_CELL:
        runs.append(TextBlock(_MARKER_FONT, marker))
    return _RichText(runs)  # rich text is always stored as text, never as a formula


class ReviewWorkbook:
    """Writes one job's review workbook; call :meth:`write` once."""

    def __init__(
        self,
        data: ReviewData,
        codebook: Codebook,
        spans_of: Callable[[int], list[TokenSpan]],
        heatmap_row_limit: int = EXCEL_ROWS - 100,
        all_levels: bool = False,
        share: Share[ReviewRow] | None = None,
        total: int | None = None,
        blind: bool = False,
    ) -> None:
        self.data = data
        self.codebook = codebook
        self.spans_of = spans_of
        self.heatmap_row_limit = heatmap_row_limit
        # label-wise models: every level's weights are in the HTML bundle; the workbook
        # shows the predicted level's evidence, as for any model
        self.all_levels = all_levels
        # which of the job's workbooks this is (None: the whole job in one), and of how
        # many protocols the job has
        self.share = share
        self.total = len(data.rows) if total is None else total
        # a blind round: the protocol text alone, nothing the model said (no level,
        # confidence, evidence, shading, Heatmap or Model sheet), in Protocol ID order
        self.blind = blind
        self.book = Workbook(write_only=True)
        self.cells = StyledCells()

    # -- sheets ----------------------------------------------------------------------
    def write(self, out: BinaryIO) -> None:
        codes = self.codebook.codes
        review = self.book.create_sheet("Review")
        passages = None
        if not self.blind:
            passages = PassagesSheet(self.book, self.cells, self.codebook, self.heatmap_row_limit)
        self._review_layout(review, codes)
        wrap = Alignment(wrap_text=True, vertical="top")
        review_row = 1
        reviewer = self.share.reviewer if self.share else None  # their name, filled in
        rows = self.data.rows
        if self.blind:  # least certain first would tell the reviewer the model's doubt
            rows = sorted(rows, key=lambda r: r.protocol_id)
        for row in rows:
            spans = [] if self.blind else self.spans_of(row.prediction_id)
            rich: Any = rich_text(row.fields, spans, row.n_tokens, plain=self.blind)
            text_cell = WriteOnlyCell(review, value=rich)
            text_cell.alignment = wrap
            review_row += 1
            review.row_dimensions[review_row].height = ROW_HEIGHT  # set before the row
            review.append(
                [
                    self.cells.cell(review, row.item_id),
                    self.cells.cell(review, row.protocol_id, "top"),
                    self.cells.cell(review, row.title, "wrap"),
                    *([] if self.blind else self._model_cells(review, row, spans)),
                    text_cell,
                    self.cells.cell(review, None, "editable"),
                    self.cells.cell(review, None, "editable"),
                    self.cells.cell(review, reviewer, "editable"),
                ]
            )
            if passages is not None:
                passages.add(row, spans)
        self._summary()
        write_codebook_sheet(self.book, self.cells, self.codebook)
        if not self.blind:
            self._model_sheet()
        self._failed_sheet()
        write_identity_sheet(
            self.book,
            [
                ("format", FORMAT),
                ("job", self.data.job_id),
                ("model", self.data.model),
                ("exported_at", datetime.now(UTC).isoformat()),
                *self._part_identity(),
                *([("blind", True)] if self.blind else []),
            ],
        )
        self.book.save(out)

    def _model_cells(self, sheet: Worksheet, row: ReviewRow, spans: list[TokenSpan]) -> list[Any]:
        """What the model said of a row: level, evidence, confidence, probabilities,
        faithfulness and strongest tokens (the columns a blind workbook leaves out)."""
        level = self.codebook.levels[row.level_index]
        strongest = ", ".join(f"{t} {w:.3f}" for t, w in row.top_tokens if w >= 0.0005)
        evidence = evidence_for(row, spans)
        passages = "\n\n".join(f"{name}: {text}" for name, text in evidence.quoted())
        faithfulness = round(row.faithfulness, 2) if row.faithfulness is not None else None
        return [
            self.cells.cell(sheet, level.code, "top"),
            self.cells.cell(sheet, level.name, "wrap"),
            self.cells.cell(sheet, evidence.describe(), "wrap"),
            self.cells.cell(sheet, passages, "wrap"),
            self.cells.cell(sheet, round(row.confidence, 4), "fraction"),
            *[self.cells.cell(sheet, round(p, 4), "fraction") for p in row.probabilities],
            self.cells.cell(sheet, faithfulness, "fraction"),
            self.cells.cell(sheet, row.faithfulness_verdict, "wrap"),
            self.cells.cell(sheet, strongest, "wrap"),
        ]

    def _part_identity(self) -> list[tuple[str, object]]:
        """What the ``_cenr`` sheet says of the part: which, of how many, for whom."""
        if self.share is None:
            return []
        return [
            ("part", self.share.part),
            ("parts", self.share.parts),
            ("reviewer", self.share.reviewer or ""),
            ("protocols", len(self.data.rows)),
            ("shared", self.share.shared),
            ("job_protocols", self.total),
        ]

    def _part_note(self) -> str:
        """The Summary sheet's first line: what this workbook holds of the job."""
        n, share, chosen = len(self.data.rows), self.share, self.data.chosen_by
        order = "in Protocol ID order (blind)" if self.blind else "least certain first"
        if share is None or (share.parts == 1 and share.reviewer is None):
            if chosen:
                return f"{n:,} protocols of job {self.data.job_id}, {chosen}."
            return f"All {n:,} classified protocols of job {self.data.job_id}, {order}."
        whose = f"{share.reviewer}'s workbook" if share.reviewer else "Workbook"
        note = (
            f"{whose} {share.part} of {share.parts}: {n:,} of the job's {self.total:,} "
            f"protocols, {order}"
        )
        if share.shared:
            note += f"; {share.shared:,} of them are reviewed by every reviewer (agreement)"
        return note + (f". The protocols were {chosen}." if chosen else ".")

    def _review_layout(self, sheet: Worksheet, codes: list[str]) -> None:
        model = [
            "Level", "Level name", "Evidence by field", "Strongest passages", "Confidence",
            *[f"P({code})" for code in codes],
            "Faithfulness", "What the heat-map shows", "Strongest tokens",
        ]  # fmt: skip
        model_widths = [7, 22, 26, 50, 11, *[7] * len(codes), 12, 34, 30]
        if self.blind:
            model, model_widths = [], []
        names = ["Row ID", "Protocol ID", "Title", *model, "Protocol text",
                 "Reviewer level", "Rationale", "Reviewer"]  # fmt: skip
        widths = [8, 16, 32, *model_widths, 90, 14, 40, 14]
        set_widths(sheet, widths)
        sheet.column_dimensions["A"].hidden = True
        sheet.freeze_panes = "C2"
        n = len(self.data.rows)
        last = get_column_letter(len(names))
        sheet.auto_filter.ref = f"A1:{last}{n + 1}"
        level_column = get_column_letter(len(names) - 2)
        column = f"{level_column}2:{level_column}{max(n + 1, 2)}"
        sheet.data_validations.append(level_choice(self.codebook, column, "Reviewer level"))
        lock_all_but_editable(sheet)
        sheet.row_dimensions[1].height = 30
        fit_to_width(sheet)
        sheet.append(self.cells.header(sheet, names))

    def _summary(self) -> None:
        sheet = self.book.create_sheet("Summary")
        sheet.column_dimensions["A"].width = 34
        sheet.column_dimensions["B"].width = 14
        counts = Counter(row.level_code for row in self.data.rows)
        sheet.append([self.cells.cell(sheet, self._part_note(), "bold")])
        if self.blind:  # the counts per level and the legend are the model's
            sheet.append([self.cells.cell(sheet, BLIND_NOTE)])
            return
        sheet.append(self.cells.header(sheet, ["Level", "Protocols"]))
        for level in self.codebook.levels:
            sheet.append([f"{level.code} {level.name}", counts.get(level.code, 0)])
        sheet.append(["failed (see the Failed sheet)", len(self.data.failures)])
        n = len(self.codebook.levels)
        chart = BarChart()
        chart.title = "Protocols per predicted level"
        chart.y_axis.title = "protocols"
        chart.legend = None
        chart.add_data(Reference(sheet, min_col=2, min_row=2, max_row=n + 2), titles_from_data=True)
        chart.set_categories(Reference(sheet, min_col=1, min_row=3, max_row=n + 2))
        chart.width, chart.height = 16, 8
        sheet.add_chart(chart, "D2")
        sheet.append([])
        sheet.append([self.cells.cell(sheet, "Colour legend", "bold")])
        sheet.append(
            [
                "Token weight relative to an even share over the protocol's tokens "
                "(weight x number of tokens): comparable across protocols of any length."
            ]
        )
        for label, step in legend_rows():
            sheet.append(
                [
                    self.cells.cell(sheet, label, f"fill{step}"),
                    self.cells.cell(sheet, "word", f"word{step}"),
                ]
            )
        sheet.append([])
        sheet.append([self.cells.cell(sheet, "Faithfulness", "bold")])
        sheet.append([self.cells.cell(sheet, FAITHFULNESS_EXPLANATION)])

    def _model_sheet(self) -> None:
        """``Model``: the model card in plain words, the technical figures last."""
        write_model_sheet(self.book, self.cells, model_card(self.data, self.codebook))

    def _failed_sheet(self) -> None:
        sheet = self.book.create_sheet("Failed")
        set_widths(sheet, (30, 8, 20, 100))
        sheet.append(self.cells.header(sheet, ["File", "Row", "Protocol ID", "Reason"]))
        for failure in self.data.failures:
            sheet.append(
                [
                    self.cells.cell(sheet, failure.file),
                    self.cells.cell(sheet, failure.position or None),
                    self.cells.cell(sheet, failure.protocol_id),
                    self.cells.cell(sheet, failure.error or ""),
                ]
            )


def write_review_workbook(
    path: Path,
    data: ReviewData,
    codebook: Codebook,
    spans_of: Callable[[int], list[TokenSpan]],
    all_levels: bool = False,
) -> Path:
    """Write the job's review workbook, every protocol in one, to ``path`` (a temporary
    name, then renamed)."""
    return write_zip_atomically(
        path, ReviewWorkbook(data, codebook, spans_of, all_levels=all_levels).write
    )


def write_review_workbooks(
    path: Path,
    data: ReviewData,
    codebook: Codebook,
    spans_of: Callable[[int], list[TokenSpan]],
    per_workbook: int,
    reviewers: Sequence[str] = (),
    overlap: float = 0.0,
    all_levels: bool = False,
    only: Collection[int] | None = None,
    target_of: Callable[[Path], Path] | None = None,
    blind: bool = False,
) -> list[Path]:
    """The job's review workbooks as :func:`exporters.dealing.deal` splits it: ``path``
    itself when one workbook holds the job, else ``path``'s name with the part's suffix
    (``review-2.xlsx``, ``review-alice.xlsx``, ``review-alice-2.xlsx``); with ``only``,
    just those of them (0-based, in dealing order), for exports written in parallel.
    ``target_of`` may move a file elsewhere (beside a workbook a reviewer filled in);
    ``blind`` leaves out everything the model said (:class:`ReviewWorkbook`)."""
    written = []
    for index, share in enumerate(deal(data.rows, per_workbook, reviewers, overlap)):
        if only is not None and index not in only:
            continue
        target = path.with_name(f"{path.stem}{share.suffix}{path.suffix}")
        target = target_of(target) if target_of is not None else target
        book = ReviewWorkbook(
            replace(data, rows=share.rows), codebook, spans_of, all_levels=all_levels,
            share=share, total=len(data.rows), blind=blind,
        )  # fmt: skip
        written.append(write_zip_atomically(target, book.write))
    return written
