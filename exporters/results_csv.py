"""A job's results as one CSV file (stand-in until the Excel and HTML exporters land).

One row per protocol and one per unreadable file: where it came from, the level, the
confidence, the faithfulness score, the strongest tokens and, for a failure, the reason.
Written to a temporary file and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from exporters.cells import safe_cell
from exporters.files import atomic_target
from schema.views import ResultRow

HEADER = (
    "file", "row", "protocol_id", "status", "level", "confidence", "faithfulness",
    "tokens_cut", "strongest_tokens", "error",
)  # fmt: skip


def write_results(target: Path, rows: Sequence[ResultRow]) -> Path:
    with (
        atomic_target(target) as temporary,
        temporary.open("w", encoding="utf-8-sig", newline="") as handle,
    ):
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for r in rows:
            writer.writerow(
                safe_cell(v)
                for v in (
                    r.file,
                    r.position or "",
                    r.protocol_id,
                    r.status,
                    r.level_code or "",
                    # numbers stay numbers: a negative score is not a formula
                    round(r.confidence, 3) if r.confidence is not None else "",
                    round(r.faithfulness, 3) if r.faithfulness is not None else "",
                    r.tokens_cut if r.tokens_cut is not None else "",
                    " ".join(token for token, _ in r.top_tokens),
                    r.error or "",
                )
            )
    return target
