"""Building blocks of the workbooks this service writes (review and discussion).

Cells carry untrusted document text, so every value passes :func:`cell_text` (control
characters out, Excel's cell length respected) and text that openpyxl would take for a
formula is stored as text. Styles are named here once and applied through
:class:`StyledCells`, which copies a style array after its first use (looking a style up
in the workbook hashes it, which costs more than writing the cell).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from exporters.palette import level_swatches
from exporters.review_format import CHOICE_COLUMN, CODEBOOK_COLUMNS, CODEBOOK_SHEET
from exporters.scale import FILLS, FONTS
from schema.codebook import Codebook

MAX_CELL = 32_767


def _font(**attributes: Any) -> Font:
    """A font of the sheet's own face: a font without a name is drawn in the reader's
    default (LibreOffice: a serif), unlike the cells around it."""
    return Font(name="Calibri", size=11, **attributes)


SHARE_FORMAT = "[<0.01]0.0%;[>0.99]0.0%;0%"  # 0.9958 shows 99.6%, never 100%
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def clean(text: str) -> str:
    """Control characters (which Excel refuses) become spaces: offsets stay valid."""
    return _CONTROL.sub(" ", text)


def cell_text(value: object) -> object:
    """A value Excel accepts: no control characters, within the cell length limit."""
    if not isinstance(value, str):
        return value
    text = clean(value)
    if len(text) > MAX_CELL:
        marker = f" [... cut: the text has {len(text)} characters, a cell holds {MAX_CELL}]"
        text = text[: MAX_CELL - len(marker)] + marker
    return text


def style_attributes(name: str | None) -> dict[str, Any]:
    """The attributes of a named cell style."""
    wrap = Alignment(wrap_text=True, vertical="top")
    if name is None:
        return {}
    if name.startswith(("swatch:", "share:")):  # a level's or a band's fill: "swatch:FILL:TEXT"
        kind, fill, text = name.split(":")
        attributes: dict[str, Any] = {
            "fill": PatternFill("solid", fgColor=fill),
            "font": _font(color=text),
            "alignment": Alignment(vertical="top", wrap_text=kind == "swatch"),
        }
        if kind == "share":
            attributes["number_format"] = SHARE_FORMAT
        return attributes
    if name.startswith("fill"):
        return {"fill": PatternFill("solid", fgColor=FILLS[int(name[4:])])}
    if name.startswith("word"):
        level = int(name[4:])
        return {"font": _font(color=FONTS[level], bold=level >= 4)}
    named: dict[str, dict[str, Any]] = {
        "header": {
            "font": _font(bold=True, color="FFFFFF"),
            "fill": PatternFill("solid", fgColor="404040"),
            "alignment": wrap,
        },
        "top": {"alignment": Alignment(vertical="top")},
        "wrap": {"alignment": wrap},
        "fraction": {"number_format": "0.00", "alignment": Alignment(vertical="top")},
        "editable": {  # where a person types: unlocked, a light yellow like a form field
            "protection": Protection(locked=False),
            "alignment": wrap,
            "fill": PatternFill("solid", fgColor="FFF8DC"),
        },
        "link": {  # the protocol's page in the reviewer's package
            "font": _font(color="0563C1", underline="single"),
            "alignment": Alignment(vertical="top"),
        },
        "nats": {"number_format": "0.00", "alignment": Alignment(vertical="top")},
        "percent": {"number_format": SHARE_FORMAT, "alignment": Alignment(vertical="top")},
        "diagonal": {"font": _font(bold=True), "fill": PatternFill("solid", fgColor="EFEFEF")},
        "bold": {"font": _font(bold=True)},
        "italic": {"font": _font(italic=True)},
        "warning": {"font": _font(bold=True, color="C00000")},
    }
    return named[name]


class StyledCells:
    """Makes write-only cells with named styles, for one workbook."""

    def __init__(self) -> None:
        self._styles: dict[tuple[bool, str | None], Any] = {}

    def cell(self, sheet: Worksheet, value: object, style: str | None = None) -> Any:
        """A cell with a named style; text openpyxl would take for a formula stays text."""
        text: Any = cell_text(value)
        cell = WriteOnlyCell(sheet, value=text)
        quoted = cell.data_type == "f"  # "=...", from a document: text, shown as typed
        if quoted:
            cell.data_type = "s"
        if not quoted and style is None:
            return cell
        key = (quoted, style)
        template = self._styles.get(key)
        if template is None:
            if quoted:
                cell.quotePrefix = True
            for name, attribute in style_attributes(style).items():
                setattr(cell, name, attribute)
            self._styles[key] = copy.copy(cell._style)  # type: ignore[attr-defined]
        else:
            cell._style = copy.copy(template)  # type: ignore[attr-defined]
        return cell

    def header(self, sheet: Worksheet, names: Sequence[str]) -> list[Any]:
        return [self.cell(sheet, n, "header") for n in names]


def fit_to_width(sheet: Worksheet) -> None:
    """Printed or rendered: landscape, every column on the page's width."""
    sheet.page_setup.orientation = "landscape"
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0


def set_widths(sheet: Worksheet, widths: Iterable[float]) -> None:
    from openpyxl.utils import get_column_letter

    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width


def level_choice(codebook: Codebook, cells: str, title: str) -> DataValidation:
    """A drop-down of the codebook's levels (read from the Codebook sheet) for ``cells``."""
    column = CHOICE_COLUMN
    choice = DataValidation(
        type="list",
        formula1=f"={CODEBOOK_SHEET}!${column}$2:${column}${len(codebook.levels) + 1}",
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="Not a level",
        error="Choose a level from the list (the Codebook sheet defines each).",
        promptTitle=title,
        prompt=f"Your level for this protocol ({title.lower()})",
        showInputMessage=True,
    )
    choice.add(cells)
    return choice


def lock_all_but_editable(sheet: Worksheet) -> None:
    """Protect the sheet (cells styled ``editable`` stay open); filters, sorting and
    column sizes stay usable."""
    protection = sheet.protection
    protection.sheet = True
    protection.autoFilter = False
    protection.sort = False
    protection.formatColumns = False
    protection.formatRows = False


def open_but_structure(sheet: Worksheet) -> None:
    """Leave the sheet unprotected: reviewers sort, filter, highlight, resize and insert
    columns (Excel sorts no locked cell of a protected sheet, LibreOffice no protected
    sheet at all). The workbook's structure is locked instead (no sheet deleted or
    renamed); the import reads only the row ID and the reviewer's columns, by header."""
    sheet.protection.sheet = False


def write_codebook_sheet(book: Workbook, cells: StyledCells, codebook: Codebook) -> None:
    """``Codebook``: the levels and their definitions; its last column, the levels as the
    drop-downs offer them (``4 Consult``), is their source."""
    sheet = book.create_sheet(CODEBOOK_SHEET)
    set_widths(sheet, (8, 34, 100, 24))
    sheet.append(cells.header(sheet, list(CODEBOOK_COLUMNS)))
    swatches = level_swatches(len(codebook.levels))
    for index, level in enumerate(codebook.levels):
        swatch = swatches[index]
        sheet.append(
            [
                cells.cell(sheet, level.code),
                cells.cell(sheet, level.name, "wrap"),
                cells.cell(sheet, level.definition, "wrap"),
                cells.cell(sheet, codebook.choice(index), f"swatch:{swatch.fill}:{swatch.text}"),
            ]
        )


def write_identity_sheet(book: Workbook, pairs: Sequence[tuple[str, object]]) -> None:
    """``_cenr`` (hidden): format and job, so an import can check where a file came from."""
    sheet = book.create_sheet("_cenr")
    sheet.sheet_state = "hidden"
    for key, value in pairs:
        sheet.append([key, value])
