"""The one colour scale of every export: token weight relative to an even share.

Weights are made comparable across protocols of any length by scaling with the number of
tokens: ``relative = weight x tokens``, so 1x is what every token would get from an even
spread. Six shades (ColorBrewer Reds): the workbook fills and fonts, the HTML bundle's
backgrounds and the legend all come from here.
"""

from __future__ import annotations

import bisect
import itertools

# Shade k covers relative weights in [BOUNDS[k-1], BOUNDS[k]); shade 0 is below 1x.
BOUNDS = (1.0, 2.0, 4.0, 8.0, 16.0)
FILLS = ("FFFFFF", "FEE0D2", "FCBBA1", "FC9272", "DE2D26", "A50F15")  # backgrounds
FONTS = ("8C8C8C", "FB6A4A", "EF3B2C", "CB181D", "A50F15", "67000D")  # text: darker = stronger
DARK = 4  # from this shade on, text on the background is white


def shade(relative: float) -> int:
    """0 (below an even share) .. 5 (16x an even share or more); 0 for NaN."""
    if relative != relative:  # NaN: bisection would call it the strongest
        return 0
    return bisect.bisect_right(BOUNDS, relative)


def legend_rows() -> list[tuple[str, int]]:
    """(label, shade) for each shade of the scale."""
    labels = ["below 1x (less than an even share)"]
    labels += [f"{lo:g}x to {hi:g}x" for lo, hi in itertools.pairwise(BOUNDS)]
    labels += [f"{BOUNDS[-1]:g}x or more"]
    return [(label, level) for level, label in enumerate(labels)]


def shade_css() -> str:
    """The HTML pages' shade classes ``.s0`` .. ``.s5``, from :data:`FILLS`."""
    rules = []
    for level, fill in enumerate(FILLS):
        text = " color: #fff;" if level >= DARK else ""
        strong = " font-weight: 600;" if level == len(FILLS) - 1 else ""
        rules.append(f".s{level} {{ background: #{fill.lower()};{text}{strong} }}\n")
    return "".join(rules)
