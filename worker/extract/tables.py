"""Read tables of protocols (CSV, XLSX, JSONL), one protocol per row.

IRB systems export one protocol per row and one column per field. A row becomes a
:class:`Protocol` whose fields are the chosen text columns, in the order given. Every
problem is reported with the file name, and the row number where there is one.
"""

from __future__ import annotations

import csv
import io
import json
import re
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schema.errors import ColumnError, InputFileError
from schema.protocol import Protocol
from worker.extract.containers import PARSER_ERRORS, ZIP_ERRORS, check_zip, damaged
from worker.extract.text import clean_text, decode_text
from worker.settings import TABLE_SUFFIXES

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
# Large IRB fields (tens of thousands of characters) exceed csv's default field limit.
csv.field_size_limit(16 * 1024 * 1024)


@dataclass(frozen=True)
class Row:
    number: int  # as a spreadsheet user counts: the header is row 1 for CSV/XLSX
    values: dict[str, Any]


def read_rows(path: Path) -> tuple[list[str], list[Row]]:
    """Column names and non-blank rows of a CSV, XLSX or JSONL file."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read the file: {exc.strerror}") from exc
    return parse_rows(str(path), raw)


def parse_rows(
    name: str,
    raw: bytes,
    max_unzipped_bytes: int = 200 * 1024 * 1024,
    max_rows: int | None = None,
) -> tuple[list[str], list[Row]]:
    """Column names and non-blank rows of a table's bytes; ``name`` is used in messages.

    Rows are read one at a time, so a table over ``max_rows`` fails in about the time its
    first ``2 * max_rows`` rows take to read, whatever its length.
    """
    suffix = Path(name).suffix.lower()
    readers = {".csv": _read_csv, ".xlsx": _read_xlsx, ".jsonl": _read_jsonl}
    if suffix not in readers:
        raise InputFileError(
            f"{name}: unsupported table type {suffix or '(none)'}; use {', '.join(TABLE_SUFFIXES)}"
        )
    if suffix == ".xlsx":
        check_zip(name, raw, max_unzipped_bytes)
    try:
        with warnings.catch_warnings():
            # openpyxl warns of parts of the file it drops (extensions, bad names): not ours
            warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl\.")
            columns, records = readers[suffix](name, raw)
            rows = _keep_rows(name, records, max_rows)
    except (*ZIP_ERRORS, KeyError, ValueError) as exc:
        raise InputFileError(f"{name}: cannot read the file: {exc}") from exc
    return columns, rows


def _keep_rows(name: str, records: Iterable[Row], max_rows: int | None) -> list[Row]:
    """The non-blank rows; past ``max_rows`` none is kept, and as many again are counted
    so the message can say by how much the table is over."""
    rows: list[Row] = []
    counted = 0
    for row in records:
        if not any(cell(v) for v in row.values.values()):
            continue
        counted += 1
        if max_rows is None or counted <= max_rows:
            rows.append(row)
        elif counted > 2 * max_rows:
            raise InputFileError(
                f"{name}: more than {2 * max_rows} rows, over the limit of {max_rows} "
                "(CENR_MAX_ROWS); split the file"
            )
    if max_rows is not None and counted > max_rows:
        raise InputFileError(
            f"{name}: {counted} rows, over the limit of {max_rows} (CENR_MAX_ROWS); split the file"
        )
    return rows


def _csv_row_of(text: str, line: int) -> int:
    """The row (header = 1) holding a line of a CSV's text: a quoted field may span lines."""
    reader = csv.reader(m.group() for m in _LINE.finditer(text))
    rows = 0
    try:
        while reader.line_num < line and next(reader, None) is not None:
            rows += 1
    except csv.Error:  # the row the file stops parsing at is the one to look at
        rows += 1
    return max(rows, 1)


def _read_csv(name: str, raw: bytes) -> tuple[list[str], Iterator[Row]]:
    text = decode_text(raw, name, _csv_row_of)
    # Lines as a file opened with newline="" gives them, without copying the text (a
    # StringIO holds four bytes a character). Not str.splitlines: it also breaks at form
    # feeds, \x1c-\x1e and U+2028 inside fields.
    reader = csv.reader(m.group() for m in _LINE.finditer(text))
    try:
        header = next(reader)
    except StopIteration:
        raise InputFileError(f"{name}: the file is empty") from None
    except csv.Error as exc:
        raise InputFileError(f"{name}: malformed CSV: {exc}") from exc
    columns = [h.strip() for h in header]

    def records() -> Iterator[Row]:
        try:
            for number, record in enumerate(reader, start=2):
                yield Row(number, dict(zip(columns, record, strict=False)))
        except csv.Error as exc:
            raise InputFileError(
                f"{name}: malformed CSV near row {reader.line_num}: {exc}"
            ) from exc

    return columns, records()


def _read_xlsx(name: str, raw: bytes) -> tuple[list[str], Iterator[Row]]:
    """The first worksheet's rows, numbered as in the sheet; the header is its first
    non-empty row."""
    sheet = _xlsx_cells(name, raw)
    first = next(sheet, None)
    if first is None:
        raise InputFileError(f"{name}: the first sheet is empty")
    header = first[1]
    columns = [str(header.get(i, "")).strip() for i in range(1, max(header) + 1)]
    named = dict(enumerate(columns, start=1))
    records = (
        Row(number, {named[i]: v for i, v in values.items() if i in named})
        for number, values in sheet
    )
    return columns, records


def _xlsx_cells(name: str, raw: bytes) -> Iterator[tuple[int, dict[int, Any]]]:
    """(row number, {column number: value}) of each non-empty row of the first worksheet."""
    try:
        yield from _first_sheet_cells(name, raw)
    except PARSER_ERRORS as exc:
        raise damaged(name, "Excel workbook", exc) from exc


def _first_sheet_cells(name: str, raw: bytes) -> Iterator[tuple[int, dict[int, Any]]]:
    """openpyxl's parts, used directly: its read-only worksheet first scans the whole
    sheet for its size when the sheet does not declare one, and pads each gap between
    row numbers with empty rows (``<row r="1000000000">`` would take minutes).
    """
    from openpyxl.reader.excel import ExcelReader
    from openpyxl.styles.stylesheet import apply_stylesheet
    from openpyxl.worksheet._reader import WorkSheetParser

    reader = ExcelReader(io.BytesIO(raw), read_only=True, data_only=True)
    with reader.archive:
        reader.read_manifest()
        reader.read_strings()
        reader.read_workbook()
        apply_stylesheet(reader.archive, reader.wb)
        path = next(
            (
                rel.target
                for _, rel in reader.parser.find_sheets()
                if rel.target in reader.valid_files and "chartsheet" not in rel.Type
            ),
            None,
        )
        if path is None:
            raise InputFileError(f"{name}: the workbook has no worksheet")
        with reader.archive.open(path) as source:
            parser = WorkSheetParser(
                source,
                reader.shared_strings,
                data_only=True,
                epoch=reader.wb.epoch,
                # set by apply_stylesheet: which number formats are dates and durations
                date_formats=getattr(reader.wb, "_date_formats", set()),
                timedelta_formats=getattr(reader.wb, "_timedelta_formats", set()),
            )
            for number, cells in parser.parse():
                values = {c["column"]: c["value"] for c in cells if c["value"] is not None}
                if values:
                    yield number, values


def _read_jsonl(name: str, raw: bytes) -> tuple[list[str], Iterator[Row]]:
    columns: list[str] = []  # every key seen, in order: complete once the rows are read
    text = decode_text(raw, name, lambda _, line: line)  # a row is a line

    def records() -> Iterator[Row]:
        seen: set[str] = set()
        found = False
        # Lines end at \n only: U+2028 and friends may sit raw inside JSON strings.
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputFileError(f"{name}: line {number} is not JSON: {exc.msg}") from exc
            except RecursionError as exc:
                raise InputFileError(f"{name}: line {number} is nested too deeply") from exc
            if not isinstance(record, dict):
                raise InputFileError(f"{name}: line {number} is not a JSON object")
            record = {clean_text(key): value for key, value in record.items()}
            columns.extend(key for key in record if key not in seen)
            seen.update(record)
            found = True
            yield Row(number, record)
        if not found:
            raise InputFileError(f"{name}: the file has no records")

    return columns, records()


def cell(value: Any) -> str:
    """A cell's text, stripped; no NUL or lone surrogate (see :func:`clean_text`)."""
    return "" if value is None else clean_text(str(value)).strip()


def require_columns(path: Path | str, columns: Sequence[str], wanted: Sequence[str]) -> None:
    """Raise :class:`ColumnError` naming any wanted column missing from ``columns``."""
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise ColumnError(
            f"{path}: no column {', '.join(repr(c) for c in missing)}; "
            f"the file has: {', '.join(repr(c) for c in columns) or 'no columns'}"
        )


def read_protocols(
    path: Path,
    text_columns: Sequence[str],
    label_column: str | None = None,
    id_column: str | None = None,
) -> list[Protocol]:
    """Protocols from a table; ``label`` is the raw label cell (or None without a label column).

    Rows without an ID get ``<file stem>:<row>``. Rows whose label cell is empty are an
    error (a labelled file with holes is usually a mistake worth knowing about).
    """
    path = Path(path)
    columns, rows = read_rows(path)
    if not text_columns:
        raise ColumnError(f"{path}: name at least one text column")
    wanted = [
        *text_columns,
        *([label_column] if label_column else []),
        *([id_column] if id_column else []),
    ]
    require_columns(path, columns, wanted)
    protocols = []
    unlabelled = []
    for row in rows:
        fields = {column: cell(row.values.get(column)) for column in text_columns}
        protocol_id = cell(row.values.get(id_column)) if id_column else ""
        label = cell(row.values.get(label_column)) if label_column else None
        if label_column and not label:
            unlabelled.append(row.number)
        protocols.append(
            Protocol(
                protocol_id=protocol_id or f"{path.stem}:{row.number}", fields=fields, label=label
            )
        )
    if unlabelled:
        shown = ", ".join(map(str, unlabelled[:10])) + (" ..." if len(unlabelled) > 10 else "")
        raise InputFileError(
            f"{path}: {len(unlabelled)} row(s) have an empty {label_column!r}: rows {shown}"
        )
    return protocols
