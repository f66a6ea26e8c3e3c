"""Plain-text renderings of evaluation reports and model lists for the terminal."""

from __future__ import annotations

from typing import Any


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
