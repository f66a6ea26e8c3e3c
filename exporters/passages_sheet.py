"""The review workbook's ``Heatmap`` sheet: each protocol's strongest passages, to read.

A row per passage (the sentences stored with the prediction as its evidence,
:mod:`schema.evidence`, at most three a protocol, strongest first): the Protocol ID, the
model's level (``4 Consult``), the field the passage is in, its share of all the weight
the model gave the protocol's words, and the passage itself, its words coloured by the
one weight scale of every export (:mod:`exporters.scale`) where the model gave them at
least an even share (weight x number of tokens >= 1), the rest black. Every word's weight
(and, for a label-wise model, every level's) is in the HTML bundle and the database.

The sheet stops short of Excel's row limit with a note; the workbook calls :meth:`add`
once per protocol, while the protocol's tokens are in memory.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment
from openpyxl.worksheet.worksheet import Worksheet

from exporters.evidence import evidence_for
from exporters.palette import level_swatches
from exporters.scale import shade
from exporters.sheets import StyledCells, clean, fit_to_width, set_widths
from schema.codebook import Codebook
from schema.evidence import Passage
from schema.views import ReviewRow, TokenSpan

SHEET = "Heatmap"
HEADER = ["Protocol ID", "Model level", "Field", "Share of the weight", "Passage"]
PASSAGE_WIDTH = 100  # characters: a stored passage (at most 300) in three lines
LINE = 15  # points: one line of 11-point text
INTRO = (
    "Each protocol's strongest passages (at most three, strongest first): the sentences "
    "around the words the model weighed most. Words given at least an even share of the "
    "weight are coloured, darker for more (legend: Summary sheet); the rest are black. "
    "Share of the weight: the passage's part of all the weight the model gave the "
    "protocol's words. Every word's weight: the HTML bundle."
)
SHARE_FORMAT = "[<0.01]0.0%;[>0.99]0.0%;0%"
FULL = (
    "The sheet is full (Excel's row limit): the remaining protocols' passages are in the "
    "Review sheet and the HTML bundle."
)


def share_of(passage: Passage, spans: Sequence[TokenSpan]) -> float:
    """The passage's part of all the protocol's weight (the weights, as stored, when the
    spans are not at hand), 0..1."""
    total = math.fsum(span.weight for span in spans)
    value = passage.weight / total if total > 0 else passage.weight
    return min(1.0, max(0.0, value))


def passage_pieces(
    passage: Passage, field_text: str, spans: Sequence[TokenSpan], n_tokens: int
) -> list[tuple[int | None, str]]:
    """The passage's text as ``(shade, text)`` pieces for :func:`exporters.workbook._runs`:
    the tokens inside the passage (in its field, within ``[start, end)``) at or above an
    even share in their shade, everything else black. The text is rebuilt from the field
    as :func:`schema.evidence.strongest_passages` made it (whitespace collapsed, ``...``
    where cut); should it not come out the stored text (a field changed since), the
    stored text is given, black."""
    from exporters.workbook import PLAIN

    if passage.end > len(field_text):  # the field is shorter than it was
        return [(PLAIN, clean(passage.text))]
    raw = field_text[passage.start : passage.end]
    levels = [PLAIN] * len(raw)
    for span in spans:
        if span.field != passage.field or span.start < passage.start or span.end > passage.end:
            continue
        level = shade(span.weight * n_tokens)
        if level >= 1:
            levels[span.start - passage.start : span.end - passage.start] = [level] * (
                span.end - span.start
            )
    pieces: list[tuple[int | None, str]] = []
    space = False
    for char, level in zip(raw, levels, strict=True):
        if char.isspace():
            space = bool(pieces)
            continue
        if space:  # one space for a run of them, coloured only inside one shade
            pieces.append((level if pieces[-1][0] == level else PLAIN, " "))
            space = False
        pieces.append((level, char))
    rebuilt = "".join(text for _, text in pieces)
    if rebuilt != passage.text and f"...{rebuilt}..." == passage.text:  # a window, cut
        pieces = [(PLAIN, "..."), *pieces, (PLAIN, "...")]
    elif rebuilt != passage.text:
        return [(PLAIN, clean(passage.text))]
    return [(level, clean(text)) for level, text in pieces]


class PassagesSheet:
    """Writes the ``Heatmap`` sheet of a review workbook: :meth:`add` each protocol."""

    def __init__(
        self, book: Workbook, cells: StyledCells, codebook: Codebook, row_limit: int
    ) -> None:
        from exporters.workbook import _runs

        self._runs = _runs
        self.cells = cells
        self.codebook = codebook
        self.row_limit = row_limit
        self.sheet: Worksheet = book.create_sheet(SHEET)
        # each level in its colour, as in the Review sheet (exporters.palette)
        self.level_styles = [
            f"swatch:{swatch.fill}:{swatch.text}" for swatch in level_swatches(len(codebook.levels))
        ]
        self.full = False
        longest = max((len(choice) for choice in codebook.choices), default=10)
        names = [display for _, display in codebook.field_names]
        field_width = max([12, *(len(name) + 2 for name in names)])
        self.widths = [16, min(max(14, longest + 2), 24), min(field_width, 20), 11, PASSAGE_WIDTH]
        set_widths(self.sheet, self.widths)
        fit_to_width(self.sheet)
        self.sheet.freeze_panes = "A3"
        self.sheet.merged_cells.add("A1:E1")  # the note over the sheet's width
        self.sheet.row_dimensions[1].height = 3 * LINE
        intro = self.cells.cell(self.sheet, INTRO, "italic")
        intro.alignment = Alignment(wrap_text=True, vertical="top")
        self.sheet.append([intro])
        self.sheet.row_dimensions[2].height = 2 * LINE
        self.sheet.append(self.cells.header(self.sheet, HEADER))
        self.rows = 2

    def add(self, row: ReviewRow, spans: Sequence[TokenSpan]) -> None:
        """The protocol's passages, a row each (one row saying so when it has none); past
        the row limit, a note once and nothing more."""
        if self.full:
            return
        passages = evidence_for(row, spans).passages
        if self.rows + max(len(passages), 1) > self.row_limit:
            self.full = True
            self.rows += 1
            self.sheet.append([self.cells.cell(self.sheet, FULL, "warning")])
            return
        level = self.codebook.choice(row.level_index)
        style = self.level_styles[row.level_index]
        if not passages:
            self._append(row.protocol_id, (level, style), None, None, None, 1)
            return
        for passage in passages:
            pieces = passage_pieces(
                passage, row.fields.get(passage.field) or "", spans, row.n_tokens
            )
            text = self.cells.cell(self.sheet, self._runs(pieces), "wrap")
            field = self.codebook.field_name(passage.field)
            lines = max(  # each column's wrapped lines
                math.ceil(len(passage.text) / (PASSAGE_WIDTH * 1.1)),  # prose: narrower than 0s
                math.ceil(len(level) / (self.widths[1] - 2)),
                math.ceil(len(field) / (self.widths[2] - 2)),
            )
            self._append(
                row.protocol_id, (level, style), field, round(share_of(passage, spans), 4), text,
                min(max(lines, 1), 4),
            )  # fmt: skip
        self.sheet.auto_filter.ref = f"A2:E{self.rows}"  # written with the sheet's end

    def _share(self, share: float | None) -> Any:
        """The share, as a percentage (0.4%, 37%, 99.6%: never 100% for 0.9958)."""
        cell = self.cells.cell(self.sheet, share, "top")
        cell.number_format = SHARE_FORMAT
        return cell

    def _append(
        self, protocol_id: str, level: tuple[str, str], field: str | None, share: float | None,
        text: Any, lines: int,
    ) -> None:  # fmt: skip
        self.rows += 1
        self.sheet.row_dimensions[self.rows].height = lines * LINE + 3  # before the row
        sheet, cells = self.sheet, self.cells
        if text is None:
            text = cells.cell(sheet, "No passage: no word carries weight.", "italic")
        self.sheet.append(
            [
                cells.cell(sheet, protocol_id, "top"),
                cells.cell(sheet, *level),
                cells.cell(sheet, field, "wrap"),
                self._share(share),
                text,
            ]
        )
