"""The reviewer's side of a review workbook already on disk: which rows hold a level.

An export about to write a review workbook where one already is must not destroy levels a
reviewer filled in and never imported (:func:`worker.export.free_target` compares them
with the stored reviews). This reads just that from the file: its ``_cenr`` identity and,
per row with a Reviewer level, the row ID, the level and the name. It lives beside the
writer, so both the pipeline's export stage and the review package may read it.

The sheet XML is streamed with lxml and only three columns' cells are kept: openpyxl
builds every run of every protocol's coloured text, 10 s for a workbook of 100
protocols, where this takes well under one. A workbook it cannot follow (no cell
references, parts where no other program puts them) is read with openpyxl instead.
"""

from __future__ import annotations

import re
import warnings
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from exporters.review_format import (
    FORMAT,
    IDENTITY_SHEET,
    KEY_FORMAT,
    KEY_JOB,
    KEY_REVIEWER,
    REVIEW_SHEET,
    REVIEWER,
    REVIEWER_LEVEL,
    ROW_ID,
)

COLUMNS = (ROW_ID, REVIEWER_LEVEL, REVIEWER)
_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_RPH = f"{_NS}rPh"
_REF = re.compile(r"([A-Z]+)([0-9]+)")


@dataclass(frozen=True)
class FilledLevel:
    row: int  # as the spreadsheet numbers it
    item_id: object  # the hidden Row ID: a job item's id
    level: object  # as the reviewer typed or picked it
    reviewer: str  # the Reviewer cell, else the reviewer the workbook was dealt to


@dataclass(frozen=True)
class FilledWorkbook:
    job: str
    levels: list[FilledLevel]


class _Unfollowed(Exception):
    """The fast reader cannot follow this file: openpyxl reads it."""


def filled_levels(path: Path) -> FilledWorkbook | None:
    """The Reviewer levels of the review workbook at ``path``; None when there is no file,
    or it is not a review workbook this service wrote (nothing of a reviewer's to keep)."""
    if not path.is_file():
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            return _fast(archive)
    except _Unfollowed:
        return _with_openpyxl(path)
    except (zipfile.BadZipFile, OSError, ValueError):  # lxml's errors are ValueErrors
        return None


# -- the fast path: the sheet XML, streamed ------------------------------------------
def _fast(archive: zipfile.ZipFile) -> FilledWorkbook | None:
    sheets = _sheet_paths(archive)
    if IDENTITY_SHEET not in sheets or REVIEW_SHEET not in sheets:
        return None
    strings = _Strings(archive)
    pairs: dict[int, dict[int, Any]] = {}
    for row, column, node in _cell_nodes(archive, sheets[IDENTITY_SHEET]):
        if column <= 2:
            pairs.setdefault(row, {})[column] = _value(node)
    identity = {
        str(key): str(value)
        for key, value in strings.resolve([(p.get(1), p.get(2)) for p in pairs.values()])
        if key is not None and value is not None
    }
    if identity.get(KEY_FORMAT) != FORMAT or not identity.get(KEY_JOB):
        return None
    rows = _review_rows(archive, sheets[REVIEW_SHEET], strings)
    if rows is None:
        return FilledWorkbook(identity[KEY_JOB], [])
    dealt_to = identity.get(KEY_REVIEWER, "")
    found = []
    for number, (item, level, name) in zip(rows, strings.resolve(rows.values()), strict=True):
        if level is None or str(level).strip() == "":
            continue
        reviewer = str(name or "").strip() or dealt_to
        found.append(FilledLevel(number, item, level, reviewer))
    return FilledWorkbook(identity[KEY_JOB], found)


def _review_rows(
    archive: zipfile.ZipFile, part: str, strings: _Strings
) -> dict[int, tuple[Any, ...]] | None:
    """Row number -> its (Row ID, Reviewer level, Reviewer) cells, shared strings not yet
    looked up; None when the header lacks one of them."""
    header: dict[int, Any] = {}
    at: list[int] | None = None
    rows: dict[int, list[Any]] = {}
    for row, column, node in _cell_nodes(archive, part):
        if row == 1:
            header[column] = _value(node)
            continue
        if at is None:
            at = _header_columns(header, strings)
            if at is None:
                return None
        if column in at:
            rows.setdefault(row, [None] * len(at))[at.index(column)] = _value(node)
    if at is None and _header_columns(header, strings) is None:
        return None
    return {number: tuple(cells) for number, cells in rows.items()}


def _header_columns(header: dict[int, Any], strings: _Strings) -> list[int] | None:
    """The columns of :data:`COLUMNS` (the first of each name), or None."""
    [named] = strings.resolve([tuple(header.values())])
    columns: dict[str, int] = {}
    for column, name in zip(header, named, strict=True):
        columns.setdefault(str(name), column)
    if any(name not in columns for name in COLUMNS):
        return None
    return [columns[name] for name in COLUMNS]


def _parse(source: IO[bytes] | bytes, tag: str) -> Iterator[Any]:
    """Elements of an XML part as they end; no entities resolved, nothing fetched."""
    import io

    from lxml import etree

    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    for _, node in etree.iterparse(
        stream, events=("end",), tag=tag, resolve_entities=False, no_network=True,
        huge_tree=True,
    ):  # fmt: skip
        yield node


def _sheet_paths(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> its part in the archive."""
    targets = {
        rel.get("Id"): rel.get("Target", "")
        for rel in _parse(archive.read("xl/_rels/workbook.xml.rels"), _PKG_REL)
    }
    paths = {}
    for sheet in _parse(archive.read("xl/workbook.xml"), f"{_NS}sheet"):
        target = targets.get(sheet.get(_REL), "")
        paths[sheet.get("name")] = target[1:] if target.startswith("/") else f"xl/{target}"
    return paths


def _column(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number


def _cell_nodes(archive: zipfile.ZipFile, part: str) -> Iterator[tuple[int, int, Any]]:
    """(row, column, element) of each cell of a sheet, in order; each element is
    cleared once the caller has read it."""
    with archive.open(part) as source:
        for node in _parse(source, f"{_NS}c"):
            reference = _REF.fullmatch(node.get("r") or "")
            if reference is None:
                raise _Unfollowed(f"{part}: a cell without a reference")
            yield int(reference.group(2)), _column(reference.group(1)), node
            node.clear(keep_tail=True)


def _value(cell: Any) -> Any:
    """A cell's value: text, a number, or ``_Shared(i)`` for the i-th shared string."""
    kind = cell.get("t", "n")
    if kind == "inlineStr":
        return _text(cell)
    raw = cell.findtext(f"{_NS}v")
    if raw is None:
        return None
    if kind == "s":
        return _Shared(int(raw))
    if kind == "n":
        number = float(raw)
        return int(number) if number.is_integer() else number
    return raw


def _text(node: Any) -> str:
    """The text of a string's runs (not of ``rPh``, a phonetic reading shown above)."""
    return "".join(t.text or "" for t in node.iter(f"{_NS}t") if t.getparent().tag != _RPH)


@dataclass(frozen=True)
class _Shared:
    index: int


class _Strings:
    """The shared strings (where Excel keeps every text) that kept cells refer to: only
    those are kept, and the part is read only as far as the furthest one needed."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        self.found: dict[int, str] = {}

    def resolve(self, groups: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
        """Each group of values with its shared strings looked up."""
        groups = [tuple(group) for group in groups]
        needed = {v.index for group in groups for v in group if isinstance(v, _Shared)}
        if needed - self.found.keys():
            self._read(needed - self.found.keys())
        return [tuple(self._one(v) for v in group) for group in groups]

    def _one(self, value: Any) -> Any:
        if not isinstance(value, _Shared):
            return value
        if value.index not in self.found:
            raise _Unfollowed(f"no shared string {value.index}")
        return self.found[value.index]

    def _read(self, needed: set[int]) -> None:
        if "xl/sharedStrings.xml" not in self.archive.namelist():
            raise _Unfollowed("shared strings without their part")
        last = max(needed)
        with self.archive.open("xl/sharedStrings.xml") as source:
            for index, node in enumerate(_parse(source, f"{_NS}si")):
                if index in needed:
                    self.found[index] = _text(node)
                node.clear(keep_tail=True)
                if index >= last:
                    break


# -- the slow path: openpyxl ----------------------------------------------------------
def _with_openpyxl(path: Path) -> FilledWorkbook | None:
    from openpyxl import load_workbook

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl's notes on parts it drops
            book = load_workbook(path, read_only=True, data_only=True)
    except Exception:  # missing, unreadable or not a workbook: nothing of ours to keep
        return None
    try:
        if IDENTITY_SHEET not in book.sheetnames or REVIEW_SHEET not in book.sheetnames:
            return None
        identity = {
            str(row[0]): str(row[1])
            for row in book[IDENTITY_SHEET].iter_rows(max_col=2, values_only=True)
            if len(row) > 1 and row[0] is not None and row[1] is not None
        }
        if identity.get(KEY_FORMAT) != FORMAT or not identity.get(KEY_JOB):
            return None
        return FilledWorkbook(
            identity[KEY_JOB], _levels(book[REVIEW_SHEET], identity.get(KEY_REVIEWER, ""))
        )
    finally:
        book.close()


def _levels(sheet: Any, dealt_to: str) -> list[FilledLevel]:
    rows = sheet.iter_rows(values_only=True)
    header = [str(v) if v is not None else "" for v in next(rows, ())]
    if any(name not in header for name in COLUMNS):
        return []
    item, level, name = (header.index(c) for c in COLUMNS)
    found = []
    for number, values in enumerate(rows, start=2):
        cells = list(values) + [None] * (len(header) - len(values))
        if cells[level] is None or str(cells[level]).strip() == "":
            continue
        reviewer = str(cells[name] or "").strip() or dealt_to
        found.append(FilledLevel(number, cells[item], cells[level], reviewer))
    return found
