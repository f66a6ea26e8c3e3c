"""Untrusted text on its way into a spreadsheet cell.

Spreadsheet programs run a cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab or
carriage return before one) as a formula, even from CSV: protocol text must never become
one (OWASP "CSV injection"). Such cells get a leading apostrophe, which Excel and
LibreOffice show as plain text.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """``value`` unchanged unless it is text a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
