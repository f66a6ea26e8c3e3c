"""One submitted file's bytes -> the protocols in it, each with where it came from.

A single document (.txt, .md, .docx, .pdf) is one protocol whose ID is the file name. A
table (.csv, .xlsx, .jsonl) is one protocol per row; the text and ID columns are the
ones configured, or else recognised from the IRB export's usual names. A file that
cannot be read, or a document with no words to classify, raises
:class:`InputFileError`; a row that cannot become a protocol (no text, or no words)
comes back as an :class:`Extracted` with an ``error``, so the rest of the file still
counts. No NUL character or lone surrogate reaches a protocol (they cannot be stored).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath

from classifier.tokenizer import has_words
from schema.errors import ColumnError, InputFileError
from schema.protocol import Protocol
from worker.extract.documents import DOCUMENT_SUFFIXES, read_docx, read_pdf, read_plain
from worker.extract.tables import TABLE_SUFFIXES, cell, parse_rows, require_columns
from worker.extract.text import clean_text
from worker.settings import SizeLimits

SUPPORTED_SUFFIXES = DOCUMENT_SUFFIXES + TABLE_SUFFIXES
# Normalised (lower-case, letters and digits only) names, in display order.
TEXT_COLUMN_NAMES = (
    "studytitle", "title", "aimsgoals", "aims", "specificaims", "background", "studydesign",
    "design", "methods", "partners", "communitypartners", "abstract", "summary", "laysummary",
    "description", "text", "protocoltext",
)  # fmt: skip
ID_COLUMN_NAMES = ("protocolid", "irbnumber", "irbno", "irbid", "studyid", "protocol", "id")
NO_WORDS = "only emoji, symbols or invisible characters: nothing to classify"


@dataclass(frozen=True)
class Limits:
    """Size limits that keep one bad file from exhausting a worker."""

    max_file_bytes: int = 20 * 1024 * 1024  # a document (PDF, DOCX, TXT)
    max_table_bytes: int = 400 * 1024 * 1024  # a table (CSV, XLSX, JSONL)
    max_unzipped_bytes: int = 200 * 1024 * 1024
    max_rows: int = 50_000
    max_pdf_pages: int = 500


@dataclass(frozen=True)
class Extracted:
    """A protocol found in a file, or the reason a row of it could not be one."""

    position: int  # row number in a table (header = 1), 1 for a single document
    external_id: str
    protocol: Protocol | None
    error: str | None = None


def _normalise(column: str) -> str:
    return re.sub(r"[^a-z0-9]", "", column.lower())


def choose_columns(
    name: str, columns: Sequence[str], text_columns: Sequence[str], id_column: str | None
) -> tuple[list[str], str | None]:
    """Text columns and ID column of a table: the configured ones, or recognised names."""
    if text_columns:
        require_columns(name, columns, [*text_columns, *([id_column] if id_column else [])])
        return list(text_columns), id_column
    by_name = {_normalise(c): c for c in reversed(columns) if c}
    chosen = [by_name[n] for n in TEXT_COLUMN_NAMES if n in by_name]
    if not chosen:
        raise ColumnError(
            f"{name}: no text column recognised among {', '.join(map(repr, columns))}; "
            "name them with --text-column (or CENR_TEXT_COLUMNS)"
        )
    if id_column:
        require_columns(name, columns, [id_column])
    else:
        id_column = next((by_name[n] for n in ID_COLUMN_NAMES if n in by_name), None)
    return chosen, id_column


def extract_source(
    name: str,
    raw: bytes,
    limits: Limits,
    text_columns: Sequence[str] = (),
    id_column: str | None = None,
) -> list[Extracted]:
    """The protocols in one file; ``name`` (its path as submitted) is used in messages."""
    suffix = PurePath(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputFileError(
            f"{name}: unsupported file type {suffix or '(no extension)'}; "
            f"use one of {', '.join(SUPPORTED_SUFFIXES)}"
        )
    limit, setting = SizeLimits(limits.max_file_bytes, limits.max_table_bytes).of(name)
    if len(raw) > limit:
        raise InputFileError(
            f"{name}: {len(raw) / 2**20:.1f} MB, over the limit of {limit / 2**20:.0f} MB "
            f"({setting})"
        )
    if not raw.strip():
        raise InputFileError(f"{name}: the file is empty")
    if suffix in TABLE_SUFFIXES:
        return _extract_table(name, raw, limits, text_columns, id_column)
    if suffix == ".docx":
        text = read_docx(name, raw, limits.max_unzipped_bytes)
    elif suffix == ".pdf":
        text = read_pdf(name, raw, limits.max_pdf_pages)
    else:
        text = read_plain(name, raw)
    text = clean_text(text)
    if not text.strip():
        raise InputFileError(f"{name}: the document has no text")
    if not has_words(text):
        raise InputFileError(f"{name}: the document has no words ({NO_WORDS})")
    external_id = PurePath(name).name
    return [Extracted(1, external_id, Protocol(protocol_id=external_id, fields={"text": text}))]


def _extract_table(
    name: str, raw: bytes, limits: Limits, text_columns: Sequence[str], id_column: str | None
) -> list[Extracted]:
    columns, rows = parse_rows(name, raw, limits.max_unzipped_bytes, limits.max_rows)
    if not rows:
        raise InputFileError(f"{name}: the table has a header but no rows")
    text_columns, id_column = choose_columns(name, columns, text_columns, id_column)
    found = []
    for row in rows:
        fields = {c: cell(row.values.get(c)) for c in text_columns}
        external_id = (
            cell(row.values.get(id_column)) if id_column else ""
        ) or f"{PurePath(name).stem}:{row.number}"
        problem = _row_problem(fields)
        if problem:
            found.append(
                Extracted(
                    row.number,
                    external_id,
                    None,
                    f"{name}: row {row.number} ({external_id}) has {problem} in "
                    f"{', '.join(map(repr, text_columns))}",
                )
            )
            continue
        found.append(Extracted(row.number, external_id, Protocol(external_id, fields)))
    return found


def _row_problem(fields: dict[str, str]) -> str | None:
    """Why a row's text cannot be classified, or None."""
    if not any(fields.values()):
        return "no text"
    if not any(map(has_words, fields.values())):
        return f"no words ({NO_WORDS})"
    return None
