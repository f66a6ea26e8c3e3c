"""The label history of a job for admins: every change of a stored level, who made it,
when and from what (:mod:`worker.review.history`), as a CSV download and as JSON.

The CSV's cells come from people (names, rationales, file names): a cell a spreadsheet
would run as a formula gets a leading apostrophe (:func:`exporters.cells.safe_cell`), and
the csv module quotes the rest.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from cenr.portal.deps import (
    ADMIN,
    NOT_FOUND,
    PAGE_NOT_FOUND,
    PAGE_SIGNED_IN,
    Admin,
    Db,
    html,
)
from exporters.cells import safe_cell
from worker.review.history import FIELDS, label_history

router = APIRouter()


def history_csv(events: list[dict[str, Any]]) -> bytes:
    """The events as CSV, oldest first, with a BOM so that Excel reads it as UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(FIELDS)
    for event in events:
        writer.writerow(safe_cell("" if event[f] is None else str(event[f])) for f in FIELDS)
    return buffer.getvalue().encode("utf-8-sig")


@router.get(
    "/jobs/{job_id}/history.csv", tags=["downloads"], response_class=Response,
    responses={
        200: {"content": {"text/csv": {}}, "description": "The job's label history."},
        **PAGE_SIGNED_IN, **PAGE_NOT_FOUND,
        403: html("Signed in as a reviewer: this needs an admin."),
    },
)  # fmt: skip
def history_download(session: Db, user: Admin, job_id: str) -> Response:
    """Every change of the job's levels, oldest first (admins): when, the protocol, the
    action, whose level, from and to which level, the rationale, who did it, through
    which channel and from which workbook."""
    body = history_csv(label_history(session, job_id))
    return Response(
        body, media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="history-{job_id}.csv"'},
    )  # fmt: skip


@router.get("/api/jobs/{job_id}/history", tags=["reviews"], responses={**ADMIN, **NOT_FOUND})
def api_history(session: Db, user: Admin, job_id: str) -> dict[str, Any]:
    """The job's label history, oldest first (admins): ``events``, each with ``at``,
    ``protocol``, ``action``, ``reviewer``, ``from_level``, ``to_level``, ``rationale``,
    ``actor``, ``channel`` (``portal``, ``cli``, or ``backfill`` for levels stored before
    the history was kept) and ``source`` (the workbook's name)."""
    return {"job": job_id, "events": label_history(session, job_id)}
