"""Which protocols go into which review workbook: a job split for people.

A year's job is thousands of protocols; one workbook of them all is hundreds of MB that
no spreadsheet opens in reasonable time. So a job's review workbooks hold at most
``per_workbook`` protocols each, least certain first across the whole job: part 1 holds
the job's least certain protocols, the last part its most certain.

With reviewers, each gets workbooks of their own (offices work this way, a reviewer per
sheet), and a shared *overlap set* goes to every one of them so that agreement can be
measured on it:

- ``overlap`` is the share of the job's protocols that every reviewer reviews. It is
  drawn evenly along the certainty order (every k-th protocol), so it is neither all
  hard nor all easy cases, and the same job always gets the same set;
- the other protocols are dealt in turn, in certainty order, so that every reviewer has
  the same mix of hard and easy ones and the counts differ by at most one;
- within a reviewer's workbooks the protocols stay least certain first.

Pure: it reads only the rows' order, and knows no database or file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from schema.errors import ConfigError

Row = TypeVar("Row")
T = TypeVar("T")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")


@dataclass(frozen=True)
class Share(Generic[Row]):
    """One workbook's protocols and whom they are for."""

    rows: list[Row]
    reviewer: str | None  # None: anyone (the job split by size only)
    part: int  # 1-based, within the reviewer's workbooks (or the job's)
    parts: int
    shared: int  # how many of ``rows`` are in the overlap set

    @property
    def suffix(self) -> str:
        """What the workbook's file name adds: ``""``, ``-2``, ``-alice`` or ``-alice-2``."""
        name = f"-{self.reviewer}" if self.reviewer else ""
        return f"{name}-{self.part}" if self.parts > 1 else name


def check_reviewers(names: Sequence[str]) -> list[str]:
    """The reviewers' names, checked: they name files, and each is one person."""
    cleaned = [name.strip() for name in names if name.strip()]
    for name in cleaned:
        if not _NAME.match(name):
            raise ConfigError(
                f"reviewer name {name!r}: use letters, digits, spaces, '.', '_' or '-' "
                "(at most 64 characters); it names the reviewer's workbook"
            )
    seen = {name.casefold() for name in cleaned}
    if len(seen) != len(cleaned):
        raise ConfigError(f"--reviewers names someone twice: {', '.join(cleaned)}")
    return cleaned


def overlap_positions(n: int, overlap: float) -> list[int]:
    """Positions (in certainty order) of the shared set: ``round(overlap x n)`` of them,
    evenly spaced."""
    if not 0.0 <= overlap <= 1.0:
        raise ConfigError(f"--overlap {overlap}: give a share between 0 and 1 (0.2 is 20%)")
    k = min(n, round(overlap * n))
    if overlap > 0 and n and k == 0:
        k = 1  # a share asked for is never rounded away
    return [int(i * n / k) for i in range(k)] if k else []


def _chunks(rows: list[T], size: int) -> list[list[T]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)] or [[]]


def deal(
    rows: Sequence[Row],
    per_workbook: int,
    reviewers: Sequence[str] = (),
    overlap: float = 0.0,
) -> list[Share[Row]]:
    """The workbooks for ``rows`` (least certain first), as described in the module."""
    if per_workbook < 1:
        raise ConfigError(f"--per-workbook {per_workbook}: give at least 1")
    reviewers = check_reviewers(reviewers)
    if not reviewers:
        if overlap:
            raise ConfigError("--overlap shares protocols between reviewers: add --reviewers")
        parts = _chunks(list(rows), per_workbook)
        return [Share(part, None, i + 1, len(parts), 0) for i, part in enumerate(parts)]
    shared_at = set(overlap_positions(len(rows), overlap))
    own: dict[str, list[int]] = {name: [] for name in reviewers}
    turn = 0
    for position in range(len(rows)):
        if position not in shared_at:
            own[reviewers[turn % len(reviewers)]].append(position)
            turn += 1
    shares: list[Share[Row]] = []
    for name in reviewers:
        positions = sorted(shared_at | set(own[name]))
        pieces = _chunks(positions, per_workbook)
        for i, piece in enumerate(pieces):
            shares.append(
                Share(
                    [rows[p] for p in piece],
                    name,
                    i + 1,
                    len(pieces),
                    sum(p in shared_at for p in piece),
                )
            )
    return shares
