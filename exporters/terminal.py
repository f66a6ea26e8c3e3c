"""A quick terminal look at one prediction: level, confidence, faithfulness, and the
protocol's text with its most-attended words highlighted.

Weights are painted onto the original text through each token's field and span, so the
reader sees the words exactly as written. Colour is used only on a terminal (or when
asked); otherwise the strongest words are marked ``[[like this]]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from classifier.tokenizer import Token

# From faint to strong: dim yellow, yellow, bold red, bold white on red.
_SHADES = ("\x1b[2;33m", "\x1b[33m", "\x1b[1;31m", "\x1b[1;97;41m")
_RESET = "\x1b[0m"


def highlight(
    fields: Mapping[str, str],
    tokens: Sequence[Token],
    weights: np.ndarray,
    top: int = 20,
    colour: bool = True,
) -> str:
    """The fields' text with the ``top`` highest-weighted tokens highlighted.

    Shade is proportional to weight relative to the strongest token. Control
    characters in the text are replaced, so document text cannot drive the terminal.
    """
    strongest = np.argsort(-weights, kind="stable")[:top]
    peak = float(weights[strongest[0]]) if len(strongest) else 0.0
    marks: dict[str, list[tuple[int, int, int]]] = {}
    for index in strongest.tolist():
        token = tokens[index]
        level = (
            min(len(_SHADES) - 1, int(len(_SHADES) * float(weights[index]) / peak)) if peak else 0
        )
        marks.setdefault(token.field, []).append((token.start, token.end, level))
    out = []
    for name, text in fields.items():
        pieces, cursor = [], 0
        for start, end, level in sorted(marks.get(name, [])):
            pieces.append(_clean(text[cursor:start]))
            word = _clean(text[start:end])
            pieces.append(f"{_SHADES[level]}{word}{_RESET}" if colour else f"[[{word}]]")
            cursor = end
        pieces.append(_clean(text[cursor:]))
        out.append(f"{name}: {''.join(pieces)}")
    return "\n\n".join(out)


def _clean(text: str) -> str:
    return "".join(ch if ch in "\n\t" or ch.isprintable() else "\ufffd" for ch in text)
