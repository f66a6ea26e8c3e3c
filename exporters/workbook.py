"""The review workbook: what a reviewer opens to check the model and record their level.

Sheets, in order:

``Review``    one row per protocol, least certain first, in the order of the work
              (:func:`exporters.review_format.review_columns`): Protocol ID (a link to
              the protocol's page in the reviewer's package), title, the model's level
              as its name in the level's colour, confidence as a percentage filled by
              its band, the reasons for a second look in words, the reviewer's columns
              (``Reviewer level`` a drop-down of ``4 Consult``-style names); then the
              evidence by field, the strongest passages and the heat-map's strength in
              a word; then, grouped and collapsed at the right, each level's
              probability, faithfulness and its two parts in nats, the strongest words
              and the text with its words coloured by weight. Rows two lines high, ID
              and title frozen, filters on; printed: the work columns, landscape, one
              page wide, the header on every page. Nothing is protected but the
              workbook's structure: reviewers sort, filter, highlight and add columns.
              Column A (hidden) holds the row ID that ``cenr review import`` reads back.
``Heatmap``   a row per strongest passage (at most three a protocol): Protocol ID,
              the model's level, the field, the passage's share of the weight and the
              passage, its strongest words coloured (:mod:`exporters.passages_sheet`).
              Every token's weight (every level's, for a label-wise model) is in the
              HTML bundle and the database; a sheet of every token of a year's
              protocols would be millions of rows no one reads.
``Summary``   the coordinator's page, live: formulas over the Review sheet count the
              protocols, those reviewed and left, those needing a second look (and
              left), where reviewers and the model agree, each model level (with a bar
              chart) and a matrix of reviewer level by model level; then the legend of
              every colour and word. One or two printed pages.
``Codebook``  the levels, their definitions and their names as the drop-downs offer
              them (the drop-downs' source).
``Model``     the model version, its training-data fingerprint, metrics and calibration.
``Failed``    files and rows that could not be classified, with the reason.
``_cenr``     (hidden) the job ID and format, so an import can check where a file came
              from, and which part of the job it holds and for whom.

A *blind* workbook (a blind round: ``blind=True``) is the same writer leaving out all the
model said: the Review sheet keeps the row ID, Protocol ID, title, the text (uncoloured)
and the reviewer's columns, in Protocol ID order; no Heatmap or Model sheet, no counts
per level (the Summary counts the progress only); ``_cenr`` says ``blind``, and the
import marks the levels so.

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
import textwrap
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
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Color
from openpyxl.utils import get_column_letter
from openpyxl.workbook.protection import WorkbookProtection
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.xml.functions import Element, SubElement, whitespace

from exporters import review_format
from exporters.dealing import Share, deal
from exporters.evidence import evidence_for
from exporters.files import write_zip_atomically
from exporters.links import page_path
from exporters.model_card import model_card, write_model_sheet
from exporters.palette import band_rows, band_swatch, level_swatches
from exporters.passages_sheet import PassagesSheet
from exporters.review_format import (
    COMPREHENSIVENESS,
    CONFIDENCE,
    EVIDENCE,
    FAITHFULNESS,
    FORMAT,
    KEY_BLIND,
    KEY_EXPORTED_AT,
    KEY_FORMAT,
    KEY_JOB,
    KEY_MODEL,
    MODEL_LEVEL,
    PASSAGES,
    PROTOCOL_ID,
    PROTOCOL_TEXT,
    RATIONALE,
    REVIEW_SHEET,
    REVIEWER,
    REVIEWER_LEVEL,
    ROW_ID,
    SECOND_LOOK,
    STRENGTH,
    STRONGEST_WORDS,
    SUFFICIENCY,
    TITLE,
    review_columns,
)
from exporters.scale import FONTS, legend_rows, shade
from exporters.sheets import (
    MAX_CELL,
    StyledCells,
    clean,
    fit_to_width,
    level_choice,
    open_but_structure,
    set_widths,
    write_codebook_sheet,
    write_identity_sheet,
)
from schema.codebook import Codebook
from schema.faithfulness import EXPLANATION as FAITHFULNESS_EXPLANATION
from schema.faithfulness import Faithfulness
from schema.second_look import STRENGTH_WORDS, band, percent, second_look, strength
from schema.views import ReviewData, ReviewRow, TokenSpan

EXCEL_ROWS = 1_048_576
ROW_HEIGHT = 30  # points: two lines, about fifteen protocols a screen; the rest in the cell
SUMMARY_NOTE = (
    "The figures are formulas over the Review sheet: they follow the reviewers' work as "
    "it is filled in."
)
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


# A run without a font name is drawn in the reader's default (LibreOffice: a serif):
# the sheet's own font, named, so coloured text reads like the cells around it.
_BODY: dict[str, Any] = {"rFont": "Calibri", "sz": 11}


@functools.cache
def _inline_font(level: int | None) -> InlineFont:
    """One font object per shade, shared by every run (building them is not cheap)."""
    if level is None:
        return InlineFont(b=True, **_BODY)
    if level == PLAIN:
        return InlineFont(color=Color("000000"), **_BODY)
    return InlineFont(color=Color(FONTS[level]), b=level >= 4 or None, **_BODY)


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


_MARKER_FONT = InlineFont(i=True, color=Color("000000"), **_BODY)
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


LINE = 120  # characters of a Summary line: the printed page's width


class _Counted:
    """A write-only sheet's rows, counted (openpyxl's write-only sheet does not)."""

    def __init__(self, sheet: Worksheet, cells: StyledCells) -> None:
        self.sheet, self.cells, self.n = sheet, cells, 0

    def append(self, cells: list[Any]) -> int:
        self.sheet.append(cells)
        self.n += 1
        return self.n

    def lines(self, text: str, width: int, style: str | None = None, first: Any = None) -> None:
        """Text a line a row, each spilling over the empty cells to its right (a printed
        page shows them; one long cell would run off it); ``first``: a cell before the
        first line (the lines then start in the second column)."""
        for index, line in enumerate(textwrap.wrap(text, width)):
            cell = self.cells.cell(self.sheet, line, style)
            if first is None:
                self.append([cell])
            else:
                self.append([first if index == 0 else None, cell])


def _nats(value: object) -> float | None:
    return round(value, 2) if isinstance(value, float) else None


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
        self.columns = review_columns(codebook, blind)
        self.swatches = level_swatches(len(codebook.levels))
        self.exported_at = datetime.now(UTC)

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
            review.append(self._review_cells(review, row, spans, text_cell, reviewer))
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
                (KEY_FORMAT, FORMAT),
                (KEY_JOB, self.data.job_id),
                (KEY_MODEL, self.data.model),
                (KEY_EXPORTED_AT, self.exported_at.isoformat()),
                *self._part_identity(),
                *([(KEY_BLIND, True)] if self.blind else []),
            ],
        )
        self.book.security = WorkbookProtection(lockStructure=True)  # sheets stay as they are
        self.book.save(out)

    def _review_cells(
        self,
        sheet: Worksheet,
        row: ReviewRow,
        spans: list[TokenSpan],
        text_cell: Any,
        reviewer: str | None,
    ) -> list[Any]:
        """A protocol's row in the order of :func:`review_format.review_columns`."""
        cell = self.cells.cell
        link = cell(sheet, row.protocol_id, "link")
        link.hyperlink = Hyperlink(ref="", target=page_path(row.item_id))  # never a formula
        values: dict[str, Any] = {
            ROW_ID: cell(sheet, row.item_id),
            PROTOCOL_ID: link,
            TITLE: cell(sheet, row.title, "wrap"),
            REVIEWER_LEVEL: cell(sheet, None, "editable"),
            RATIONALE: cell(sheet, None, "editable"),
            REVIEWER: cell(sheet, reviewer, "editable"),
            PROTOCOL_TEXT: text_cell,
        }
        if not self.blind:
            values.update(self._model_cells(sheet, row, spans))
        return [values[column.name] for column in self.columns]

    def _model_cells(
        self, sheet: Worksheet, row: ReviewRow, spans: list[TokenSpan]
    ) -> dict[str, Any]:
        """What the model said of a row, by column: level, confidence, the reasons for a
        second look, evidence, and the technical columns (all a blind workbook leaves out)."""
        cell, codebook = self.cells.cell, self.codebook
        level = self.swatches[row.level_index]
        evidence = evidence_for(row, spans)
        shares = [(codebook.field_name(name), share) for name, share in evidence.fields]
        shown = [(name, share) for name, share in shares if share >= 0.01][:3]  # two lines
        by_field = ", ".join(f"{name} {percent(share)}" for name, share in shown)
        quoted = "\n\n".join(
            f"{codebook.field_name(name)}: {text}" for name, text in evidence.quoted()
        )
        doubt = second_look(
            codebook, row.level_index, row.confidence, row.faithfulness_detail, evidence.fields
        )
        confidence_band = band_swatch(band(row.confidence))
        record = Faithfulness.from_detail(row.faithfulness_detail)
        strongest = ", ".join(t for t, w in row.top_tokens if w >= 0.0005)
        probabilities = {
            review_format.probability(codebook, index): cell(sheet, round(p, 4), "percent")
            for index, p in enumerate(row.probabilities)
        }
        return {
            MODEL_LEVEL: cell(
                sheet, codebook.choice(row.level_index), f"swatch:{level.fill}:{level.text}"
            ),
            CONFIDENCE: cell(
                sheet, round(row.confidence, 4),
                f"share:{confidence_band.fill}:{confidence_band.text}",
            ),
            SECOND_LOOK: cell(sheet, doubt.describe() or None, "wrap"),
            EVIDENCE: cell(sheet, by_field or "no words weighed", "wrap"),
            PASSAGES: cell(sheet, quoted, "wrap"),
            STRENGTH: cell(sheet, strength(row.faithfulness_detail), "top"),
            **probabilities,
            FAITHFULNESS: cell(sheet, _nats(row.faithfulness), "nats"),
            COMPREHENSIVENESS: cell(sheet, _nats(record and record.comprehensiveness), "nats"),
            SUFFICIENCY: cell(sheet, _nats(record and record.sufficiency), "nats"),
            STRONGEST_WORDS: cell(sheet, strongest, "wrap"),
        }  # fmt: skip

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
        """Widths, the technical columns grouped and collapsed at the right, the frozen ID
        and title, filters, the drop-down, printing; then the header row."""
        columns = self.columns
        set_widths(sheet, [column.width for column in columns])
        sheet.column_dimensions["A"].hidden = True
        technical = [i for i, column in enumerate(columns, start=1) if column.part == "technical"]
        for index in technical:  # one outline group, collapsed: a [+] above the columns
            dimension = sheet.column_dimensions[get_column_letter(index)]
            dimension.outlineLevel, dimension.hidden = 1, True
        if technical:
            sheet.column_dimensions[get_column_letter(technical[-1] + 1)].collapsed = True
            sheet.sheet_format.outlineLevelCol = 1
        sheet.freeze_panes = f"{self._letter(TITLE, 1)}2"  # Protocol ID and title stay in view
        n = max(len(self.data.rows), 1)
        last = get_column_letter(len(columns))
        sheet.auto_filter.ref = f"A1:{last}{n + 1}"
        level = self._letter(REVIEWER_LEVEL)
        sheet.data_validations.append(
            level_choice(self.codebook, f"{level}2:{level}{n + 1}", REVIEWER_LEVEL)
        )
        open_but_structure(sheet)
        sheet.row_dimensions[1].height = 32
        fit_to_width(sheet)
        sheet.print_title_rows = "1:1"
        work = max(i for i, column in enumerate(columns, start=1) if column.part in ("id", "work"))
        sheet.print_area = f"A1:{get_column_letter(work)}{n + 1}"  # the reviewer's columns
        header = self.cells.header(sheet, [column.name for column in columns])
        if not self.blind:  # what each word of the strength column means, on its header
            meaning = "\n".join(f"{word}: {sentence}" for word, sentence in STRENGTH_WORDS.items())
            header[[c.name for c in columns].index(STRENGTH)].comment = Comment(
                meaning, "cenr", height=260, width=420
            )
        sheet.append(header)

    def _formula(self, sheet: Worksheet, formula: str, style: str | None = None) -> Any:
        """A formula of this module's own (never document text: :meth:`StyledCells.cell`
        keeps such text as text)."""
        cell = self.cells.cell(sheet, None, style)
        cell.value = formula
        assert cell.data_type == "f"
        return cell

    def _letter(self, name: str, after: int = 0) -> str:
        """The Review sheet's column of ``name`` (``after``: the one so many to its right)."""
        names = [column.name for column in self.columns]
        return get_column_letter(names.index(name) + 1 + after)

    def _range(self, name: str) -> str:
        """A Review column's cells, every row of the workbook: ``Review!$G$2:$G$101``."""
        letter, n = self._letter(name), max(len(self.data.rows), 1)
        return f"{REVIEW_SHEET}!${letter}$2:${letter}${n + 1}"

    def _summary(self) -> None:
        """The coordinator's page: progress and agreement as formulas over the Review sheet
        (they follow the work as it is filled in), counts per model level, a matrix of the
        reviewers' levels against the model's, and the legend of every colour."""
        sheet = self.book.create_sheet("Summary")
        rows = _Counted(sheet, self.cells)
        cell = self.cells.cell
        n_levels = len(self.codebook.levels)
        set_widths(sheet, [38, *[13] * (n_levels + 1)])
        fit_to_width(sheet)  # before the first row: write-only sheets write it first
        sheet.page_setup.fitToHeight = 2
        exported = self.exported_at.strftime("%Y-%m-%d %H:%M UTC")
        rows.lines(self._part_note(), LINE, "bold")
        rows.lines(f"Exported {exported}. {SUMMARY_NOTE}", LINE, "italic")
        if self.blind:
            rows.lines(BLIND_NOTE, LINE)
        rows.append([])
        ids, chosen = self._range(ROW_ID), self._range(REVIEWER_LEVEL)
        rows.append(self.cells.header(sheet, ["Progress", "Protocols"]))
        first = rows.n + 1  # the next row's number
        progress: list[tuple[str, str]] = [
            ("Protocols in this workbook", f"=COUNT({ids})"),
            ("Reviewed (a Reviewer level chosen)", f"=COUNTA({chosen})"),
            ("Left to review", f"=B{first}-B{first + 1}"),
        ]
        if not self.blind:
            flagged, model = self._range(SECOND_LOOK), self._range(MODEL_LEVEL)
            progress += [
                ("Need a second look", f'=COUNTIF({flagged},"?*")'),
                ("... of them left to review", f'=COUNTIFS({flagged},"?*",{chosen},"")'),
                ("Reviewer and model agree", f"=SUMPRODUCT(({chosen}={model})*1)"),
                ("Reviewer and model differ", f"=B{first + 1}-B{first + 5}"),
            ]
        for label, formula in progress:
            rows.append([cell(sheet, label), self._formula(sheet, formula)])
        if self.blind:
            return
        rows.append(
            [cell(sheet, "Files or rows that failed (Failed sheet)"), len(self.data.failures)]
        )
        rows.append([])
        self._level_counts(rows, model)
        rows.append([])
        self._agreement_matrix(rows, chosen, model)
        rows.append([])
        self._legend(rows)
        sheet.print_area = f"A1:{get_column_letter(n_levels + 2)}{rows.n}"

    def _level_counts(self, rows: _Counted, model: str) -> None:
        """Protocols per model level (formulas), with a bar chart."""
        sheet = rows.sheet
        cell = self.cells.cell
        rows.append(self.cells.header(sheet, ["Model level", "Protocols"]))
        header = rows.n
        for index, swatch in enumerate(self.swatches):
            row = header + 1 + index
            rows.append(
                [
                    cell(sheet, self.codebook.choice(index), f"swatch:{swatch.fill}:{swatch.text}"),
                    self._formula(sheet, f"=COUNTIF({model},A{row})"),
                ]
            )
        n = len(self.swatches)
        chart = BarChart()
        chart.title = "Protocols per model level"
        chart.y_axis.title = "protocols"
        chart.legend = None
        chart.add_data(
            Reference(sheet, min_col=2, min_row=header, max_row=header + n), titles_from_data=True
        )
        chart.set_categories(Reference(sheet, min_col=1, min_row=header + 1, max_row=header + n))
        chart.width, chart.height = 15, 7
        sheet.add_chart(chart, "D4")  # beside the progress and the counts

    def _agreement_matrix(self, rows: _Counted, chosen: str, model: str) -> None:
        """Reviewer level (rows) against model level (columns), counted by COUNTIFS."""
        sheet = rows.sheet
        cell, n = self.cells.cell, len(self.swatches)
        sheet.row_dimensions[rows.n + 1].height = 45  # three lines of a level's name
        rows.append(
            [
                cell(sheet, "Reviewer level (rows) by model level (columns)", "header"),
                *[
                    cell(sheet, self.codebook.choice(i), f"swatch:{s.fill}:{s.text}")
                    for i, s in enumerate(self.swatches)
                ],
                cell(sheet, "Reviewed", "header"),
            ]
        )
        top = rows.n
        last = get_column_letter(n + 1)
        for index, swatch in enumerate(self.swatches):
            row = top + 1 + index
            counts = [
                self._formula(
                    sheet,
                    f"=COUNTIFS({chosen},$A{row},{model},{get_column_letter(c)}${top})",
                    "diagonal" if c - 2 == index else None,
                )
                for c in range(2, n + 2)
            ]
            rows.append(
                [
                    cell(sheet, self.codebook.choice(index), f"swatch:{swatch.fill}:{swatch.text}"),
                    *counts,
                    self._formula(sheet, f"=SUM(B{row}:{last}{row})", "bold"),
                ]
            )
        end = top + n
        rows.append(
            [
                cell(sheet, "Reviewed", "bold"),
                *[
                    self._formula(sheet, f"=SUM({get_column_letter(c)}{top + 1}:"
                                    f"{get_column_letter(c)}{end})", "bold")
                    for c in range(2, n + 3)
                ],
            ]
        )  # fmt: skip
        rows.append(
            [cell(sheet, "The diagonal (bold): the reviewer chose the model's level.", "italic")]
        )

    def _legend(self, rows: _Counted) -> None:
        """What every colour and word of the Review sheet means."""
        sheet = rows.sheet
        cell = self.cells.cell
        rows.append([cell(sheet, "Colour legend", "bold")])
        rows.append([cell(sheet, "Model level: the tables above show each level's fill.")])
        rows.append([])
        rows.append(self.cells.header(sheet, ["Confidence", "Means"]))
        above = None
        for name, words, low in band_rows():
            swatch = band_swatch(name)
            span = f"{low:.0%} and above" if above is None else f"{low:.0%} to under {above:.0%}"
            span = span if low > 0 else f"below {above:.0%}"
            rows.append([cell(sheet, span, f"swatch:{swatch.fill}:{swatch.text}"),
                          cell(sheet, words)])  # fmt: skip
            above = low
        rows.append([])
        rows.append(self.cells.header(sheet, ["Heat-map strength", "Means"]))
        for word, sentence in STRENGTH_WORDS.items():
            rows.lines(sentence, LINE - 40, first=cell(sheet, word, "top"))
        rows.append([])
        rows.append(
            [
                cell(sheet, "Word shading (Protocol text)", "bold"),
                cell(sheet, "weight x number of words: 1x is an even share"),
            ]
        )
        for label, step in legend_rows():
            rows.append([cell(sheet, label, f"fill{step}"), cell(sheet, "word", f"word{step}")])
        rows.append([])
        rows.append([cell(sheet, "Faithfulness (technical columns)", "bold")])
        rows.lines(FAITHFULNESS_EXPLANATION, LINE)

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
