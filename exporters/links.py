"""Where a protocol's page sits in the reviewer's package, so a workbook row can link to it.

The package (``cenr run``, ``cenr export``, the portal's download) unzips to one folder
holding the review workbook(s) beside ``protocols/``; a row's link is relative to the
workbook, so it opens the page offline, after unzipping, wherever the folder is. Pages
are named by the job item's number (never by a protocol ID, which comes from a document).
"""

from __future__ import annotations

PAGES = "protocols"


def page_path(item_id: int) -> str:
    """The page of job item ``item_id``, relative to the package's folder."""
    return f"{PAGES}/{int(item_id):05d}.html"
