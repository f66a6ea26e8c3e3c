"""The colours a reviewer reads a level and a doubt by, one palette for the workbook, the
HTML pages and the portal.

Levels take colours from ColorBrewer's YlGnBu, a sequential scale that stays ordered for
the common colour-vision deficiencies (deuteranopia, protanopia, tritanopia) and in grey
print: light for the lowest level, dark blue for the highest, so an ordinal codebook reads
as a ramp. A codebook of n levels takes n steps spread over the scale. Confidence falls
in three bands (:data:`BANDS`), coloured from white through light to strong orange, a hue
no level uses. The heat-map's shading of words is the separate scale of
:mod:`exporters.scale` (reds), so a level's colour is never read as a word's weight.
"""

from __future__ import annotations

from dataclasses import dataclass

from schema.second_look import BANDS as _BANDS

YLGNBU = (
    "FFFFD9", "EDF8B1", "C7E9B4", "7FCDBB", "41B6C4",
    "1D91C0", "225EA8", "253494", "081D58",
)  # fmt: skip
# CEnR's six levels: every other step of the nine-step scale from the second on
_SIX = ("EDF8B1", "C7E9B4", "7FCDBB", "1D91C0", "225EA8", "081D58")


@dataclass(frozen=True)
class Swatch:
    fill: str  # RRGGBB, no '#'
    text: str  # black or white, whichever reads on the fill

    @property
    def css(self) -> str:
        return f"background: #{self.fill.lower()}; color: #{self.text.lower()};"


def _text_on(fill: str) -> str:
    red, green, blue = (int(fill[i : i + 2], 16) for i in (0, 2, 4))
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return "000000" if luminance > 140 else "FFFFFF"


def level_fills(n: int) -> list[str]:
    """The fills of a codebook's ``n`` levels, lowest first."""
    if n == len(_SIX):
        return list(_SIX)
    if n <= 1:
        return [YLGNBU[4]] * n
    if n <= len(YLGNBU) - 1:
        steps = [1 + round(i * (len(YLGNBU) - 2) / (n - 1)) for i in range(n)]
        return [YLGNBU[s] for s in steps]
    return [YLGNBU[1 + i % (len(YLGNBU) - 1)] for i in range(n)]  # more levels than steps


def level_swatches(n: int) -> list[Swatch]:
    return [Swatch(fill, _text_on(fill)) for fill in level_fills(n)]


# Confidence bands, most sure first: (name, lowest confidence, fill)
BAND_FILLS = {"high": "FFFFFF", "medium": "FDD0A2", "low": "E6550D"}


def band_swatch(band: str) -> Swatch:
    fill = BAND_FILLS[band]
    return Swatch(fill, _text_on(fill))


def band_rows() -> list[tuple[str, str, float]]:
    """(band, words, lowest confidence) for the legend, most sure first."""
    return [(name, words, low) for name, words, low in _BANDS]


def palette_css() -> str:
    """CSS classes ``.level0`` .. ``.level{n-1}`` for the six-level default and up to
    nine levels, and ``.band-high``/``-medium``/``-low``: for pages and the portal."""
    rules = []
    for n in range(2, len(YLGNBU) + 1):
        for index, swatch in enumerate(level_swatches(n)):
            rules.append(f".levels{n} .level{index} {{ {swatch.css} }}\n")
    for index, swatch in enumerate(level_swatches(6)):  # the default without a wrapper
        rules.append(f".level{index} {{ {swatch.css} }}\n")
    for band in BAND_FILLS:
        rules.append(f".band-{band} {{ {band_swatch(band).css} }}\n")
    return "".join(rules)
