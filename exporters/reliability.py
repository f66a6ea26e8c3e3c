"""The reliability diagram of the model card, as a self-contained SVG.

Each series is the list of bins that :func:`classifier.calibration.reliability` saved with
the model (range, count, mean confidence, accuracy). A perfectly calibrated model's points
lie on the diagonal; points below it are over-confident, and a line joins each point to
the diagonal to show the gap. Each point's area follows the number of predictions in its
bin, so a bin of one protocol does not look like evidence (points are not joined into a
curve for the same reason).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

# (label, colour, dash) per series, in drawing order
STYLES = {
    "validation, before calibration": ("#b0b0b0", "6 4"),
    "validation, after calibration": ("#2b6cb0", ""),
    "held-out, calibrated": ("#c05621", ""),
}


def reliability_svg(series: Sequence[tuple[str, Sequence[dict[str, Any]]]]) -> str:
    """One chart: mean confidence across, accuracy up, a dot per bin of each series."""
    size, left, top, bottom = 320, 60, 20, 50
    width, height = left + size + 250, top + size + bottom
    total = max((sum(p["n"] for p in points) for _, points in series), default=1) or 1

    def x(value: float) -> float:
        return left + value * size

    def y(value: float) -> float:
        return top + (1 - value) * size

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="13">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<rect x="{left}" y="{top}" width="{size}" height="{size}" fill="none" stroke="#999999"/>',
        f'<line x1="{x(0)}" y1="{y(0)}" x2="{x(1)}" y2="{y(1)}" stroke="#999999" '
        'stroke-dasharray="2 3"/>',
    ]
    for tick in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0):
        parts.append(
            f'<text x="{x(tick)}" y="{top + size + 16}" text-anchor="middle">{tick:.1f}</text>'
            f'<text x="{left - 6}" y="{y(tick) + 4}" text-anchor="end">{tick:.1f}</text>'
        )
    parts.append(
        f'<text x="{left + size / 2}" y="{top + size + 38}" text-anchor="middle" '
        'font-weight="bold">mean confidence in the bin</text>'
        f'<text x="16" y="{top + size / 2}" text-anchor="middle" font-weight="bold" '
        f'transform="rotate(-90 16 {top + size / 2})">share right</text>'
    )
    for row, (label, points) in enumerate(series):
        colour, dash = STYLES.get(label, ("#000000", ""))
        offset = (row - 1) * 3  # side by side, so series in the same bin do not hide
        for p in points:
            cx, cy = x(p["confidence"]) + offset, y(p["accuracy"])
            radius = 2.5 + 9 * math.sqrt(p["n"] / total)
            dashed = f' stroke-dasharray="{dash}"' if dash else ""
            parts.append(  # the gap to the diagonal: below it, over-confident
                f'<line x1="{cx:.1f}" y1="{y(p["confidence"]):.1f}" x2="{cx:.1f}" '
                f'y2="{cy:.1f}" stroke="{colour}" stroke-width="1.5"{dashed}/>'
                f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{radius:.1f}" fill="{colour}" '
                f'fill-opacity="0.6"><title>{html.escape(label)}: {p["n"]} prediction(s), '
                f"confidence {p['confidence']:.3f}, right {p['accuracy']:.3f}</title></circle>"
            )
        key_y = top + 12 + 22 * row
        count = sum(p["n"] for p in points)
        parts.append(
            f'<line x1="{left + size + 20}" y1="{key_y}" x2="{left + size + 44}" y2="{key_y}" '
            f'stroke="{colour}" stroke-width="3"/>'
            f'<text x="{left + size + 50}" y="{key_y + 4}">{html.escape(label)} '
            f"({count})</text>"
        )
    parts.append("</svg>\n")
    return "".join(parts)
