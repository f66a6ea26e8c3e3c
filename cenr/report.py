"""Plain-text renderings for the terminal: evaluation reports, model lists, and any
untrusted text (file names, reasons quoting a file's content) made safe to print."""

from __future__ import annotations

import logging
import unicodedata
from typing import Any

# Control characters (C0, C1: ESC starts the sequences that move the cursor, clear the
# screen or retitle the window), format characters (bidi overrides that reorder what
# follows, zero-width characters), line and paragraph separators, surrogates, private
# and unassigned code points: a name holding one could rewrite what the terminal shows.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def terminal_safe(text: object) -> str:
    """``text`` as it may be printed to a terminal: each control or format character is
    shown as its Python escape (``\\x1b``, ``\\n``, ``\\u202e``), so nothing in a file
    name or a file's content drives the terminal, and the name can still be recognised."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(
        ch.encode("unicode_escape").decode("ascii")
        if unicodedata.category(ch) in _UNSAFE_CATEGORIES
        else ch
        for ch in text
    )


class TerminalFormatter(logging.Formatter):
    """Log lines for a terminal: the message (which may name files) made
    :func:`terminal_safe`; a traceback, added after, keeps its lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return terminal_safe(super().formatMessage(record))


def format_report(report: dict[str, Any], title: str) -> str:
    """The evaluation report as an aligned table with a confusion matrix."""
    lines = [title, ""]
    lines.append(
        f"accuracy {report['accuracy']:.3f}   macro-F1 {report['macro_f1']:.3f}   "
        f"ECE {report['ece']:.3f}   n={report['n']}"
    )
    if "coarse" in report:
        coarse = report["coarse"]
        lines.append(
            f"coarse view (0 / 1-2 / 3-5): accuracy {coarse['accuracy']:.3f}   "
            f"macro-F1 {coarse['macro_f1']:.3f}"
        )
    if "calibration" in report:
        cal = report["calibration"]
        lines.append(
            f"calibration: temperature {cal['temperature']:.2f} "
            f"({cal.get('method', 'fitted')}), validation ECE "
            f"{cal['ece_before']:.3f} -> {cal['ece_after']:.3f}"
        )
        if cal.get("note"):
            lines.append(f"calibration note: {cal['note']}")
    if report.get("faithfulness") is not None:
        faith = report["faithfulness"]
        lines.append(
            f"faithfulness (top 5/10/20% of words vs random, nats of log-odds): "
            f"comprehensiveness {faith['comprehensiveness']:+.2f}, sufficiency "
            f"{faith['sufficiency']:+.2f}; the heat-map carries the label for "
            f"{faith['share_carrying']:.0%} of predictions"
        )
    lines += ["", f"{'level':<36} {'precision':>9} {'recall':>7} {'F1':>6} {'n':>5}"]
    for code, scores in report["per_class"].items():
        label = f"{code} {scores['name']}"[:36]
        lines.append(
            f"{label:<36} {scores['precision']:>9.3f} {scores['recall']:>7.3f} "
            f"{scores['f1']:>6.3f} {scores['support']:>5}"
        )
    codes = list(report["per_class"])
    lines += ["", "confusion matrix (rows: true level, columns: predicted)"]
    lines.append("      " + "".join(f"{c:>6}" for c in codes))
    for code, row in zip(codes, report["confusion_matrix"], strict=True):
        lines.append(f"{code:>6}" + "".join(f"{n:>6}" for n in row))
    return "\n".join(lines)


def format_comparison(comparison: dict[str, Any]) -> str:
    """Old and new models side by side on the same held-out protocols."""
    lines = [
        f"before and after, on the same {comparison['n']} held-out protocols",
        f"{'model':<30} {'':<7} {'accuracy':>8} {'macro-F1':>8} {'ECE':>6} {'coarse':>7}",
    ]
    for row in comparison["models"]:
        coarse = row["coarse_accuracy"]
        lines.append(
            f"{row['model'][:30]:<30} {row['role']:<7} {row['accuracy']:>8.3f} "
            f"{row['macro_f1']:>8.3f} {row['ece']:>6.3f} "
            f"{'-' if coarse is None else f'{coarse:.3f}':>7}"
        )
    return "\n".join(lines)
