"""Read tables of protocols (CSV, XLSX, JSONL), one protocol per row.

IRB systems export one protocol per row and one column per field. A row becomes a
:class:`Protocol` whose fields are the chosen text columns, in the order given. Every
problem is reported with the file name, and the row number where there is one.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schema.errors import ColumnError, InputFileError
from schema.protocol import Protocol
from worker.extract.text import decode_text

TABLE_SUFFIXES = (".csv", ".xlsx", ".jsonl")
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
    name: str, raw: bytes, max_unzipped_bytes: int = 200 * 1024 * 1024
) -> tuple[list[str], list[Row]]:
    """Column names and non-blank rows of a table's bytes; ``name`` is used in messages."""
    suffix = Path(name).suffix.lower()
    try:
        if suffix == ".csv":
            columns, rows = _read_csv(name, raw)
        elif suffix == ".xlsx":
            check_zip(name, raw, max_unzipped_bytes)
            columns, rows = _read_xlsx(name, raw)
        elif suffix == ".jsonl":
            columns, rows = _read_jsonl(name, raw)
        else:
            raise InputFileError(
                f"{name}: unsupported table type {suffix or '(none)'}; "
                f"use {', '.join(TABLE_SUFFIXES)}"
            )
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise InputFileError(f"{name}: cannot read the file: {exc}") from exc
    return columns, [r for r in rows if any(_cell(v) for v in r.values.values())]


def check_zip(name: str, raw: bytes, max_unzipped_bytes: int) -> zipfile.ZipFile:
    """Open a zip container (DOCX, XLSX), refusing encrypted, damaged or bomb archives."""
    if raw.startswith(b"\xd0\xcf\x11\xe0"):
        raise InputFileError(
            f"{name}: the file is password-protected (encrypted) or an old binary Office "
            "format; save it again without a password as .docx or .xlsx"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputFileError(f"{name}: damaged or not an Office file ({exc})") from exc
    total = sum(m.file_size for m in members)
    if total > max_unzipped_bytes:
        raise InputFileError(
            f"{name}: unpacks to {total / 2**20:.0f} MB, over the limit of "
            f"{max_unzipped_bytes / 2**20:.0f} MB (CENR_MAX_UNZIPPED_MB); refused as a "
            "possible zip bomb"
        )
    if any(m.flag_bits & 0x1 for m in members):
        raise InputFileError(f"{name}: the archive is password-protected")
    return archive


def _read_csv(name: str, raw: bytes) -> tuple[list[str], list[Row]]:
    text = decode_text(raw, name)
    # Not str.splitlines: it also breaks at form feeds, \x1c-\x1e and U+2028 inside fields.
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise InputFileError(f"{name}: the file is empty") from None
    except csv.Error as exc:
        raise InputFileError(f"{name}: malformed CSV: {exc}") from exc
    columns = [h.strip() for h in header]
    rows = []
    try:
        for number, record in enumerate(reader, start=2):
            rows.append(Row(number, dict(zip(columns, record, strict=False))))
    except csv.Error as exc:
        raise InputFileError(f"{name}: malformed CSV near row {reader.line_num}: {exc}") from exc
    return columns, rows


def _read_xlsx(name: str, raw: bytes) -> tuple[list[str], list[Row]]:
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        values = sheet.iter_rows(values_only=True)
        header = next(values, None)
        if header is None:
            raise InputFileError(f"{name}: the first sheet is empty")
        columns = [str(h).strip() if h is not None else "" for h in header]
        rows = [
            Row(number, dict(zip(columns, record, strict=False)))
            for number, record in enumerate(values, start=2)
        ]
    finally:
        workbook.close()
    return columns, rows


def _read_jsonl(name: str, raw: bytes) -> tuple[list[str], list[Row]]:
    columns: dict[str, None] = {}
    rows = []
    # Lines end at \n only: U+2028 and friends may sit raw inside JSON strings.
    for number, line in enumerate(decode_text(raw, name).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputFileError(f"{name}: line {number} is not JSON: {exc.msg}") from exc
        if not isinstance(record, dict):
            raise InputFileError(f"{name}: line {number} is not a JSON object")
        columns.update(dict.fromkeys(record))
        rows.append(Row(number, record))
    if not rows:
        raise InputFileError(f"{name}: the file has no records")
    return list(columns), rows


def _cell(value: Any) -> str:
    return "" if value is None else str(value).strip()


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
        fields = {column: _cell(row.values.get(column)) for column in text_columns}
        protocol_id = _cell(row.values.get(id_column)) if id_column else ""
        label = _cell(row.values.get(label_column)) if label_column else None
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
