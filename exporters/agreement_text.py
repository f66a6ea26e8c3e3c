"""An agreement report (``worker.review.agreement.agreement``) as lines of words, one figure a
line, each undefined figure with its reason: what ``cenr review agreement`` prints, the
portal's job page lists and the Discussion workbook's Agreement sheet holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _show(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _weighted(pair: Mapping[str, Any], coarse: str) -> str:
    a, b = pair["reviewers"]
    if pair["why_undefined"]:
        return f"weighted kappa {a} / {b}: {pair['why_undefined']} (n={pair['n']})"
    line = (
        f"weighted kappa {a} / {b}: linear {_show(pair['linear'])}, "
        f"quadratic {_show(pair['quadratic'])}"
    )
    if "coarse" in pair:
        line += (
            f"; coarse ({coarse}) linear {_show(pair['coarse']['linear'])}, "
            f"quadratic {_show(pair['coarse']['quadratic'])}"
        )
    return f"{line} (n={pair['n']})"


def _alpha(report: Mapping[str, Any], coarse: str) -> str:
    alpha = report["krippendorff_alpha"]
    if alpha["why_undefined"]:
        return f"Krippendorff's alpha (ordinal): {alpha['why_undefined']}"
    line = f"Krippendorff's alpha (ordinal), all reviewers: {_show(alpha['ordinal'])}"
    if report["coarse_levels"]:
        line += f"; coarse ({coarse}): " + (alpha["coarse_why_undefined"] or _show(alpha["coarse"]))
    return f"{line} (units={alpha['units']})"


def agreement_lines(report: Mapping[str, Any]) -> list[str]:
    """Nominal kappas, then the ordinal figures (fine and coarse), then model/reviewer."""
    coarse = " / ".join(report["coarse_levels"])
    lines = [
        f"Cohen's kappa {p['reviewers'][0]} / {p['reviewers'][1]}: "
        f"{_show(p['cohen_kappa'])} (n={p['n']})"
        for p in report["pairs"]
    ]
    lines.append(
        f"Fleiss' kappa, all reviewers: {_show(report['fleiss_kappa'])} (n={report['fleiss_n']})"
    )
    lines += [_weighted(pair, coarse) for pair in report["weighted_kappa"]]
    lines.append(_alpha(report, coarse))
    lines += [
        f"model / {row['reviewer']}: agreement {_show(row['accuracy'])}, "
        f"Cohen's kappa {_show(row['cohen_kappa'])} (n={row['n']})"
        for row in report["model_vs_reviewer"]
    ]
    return lines + _blind_lines(report.get("blind_vs_sighted"))


def _against(figures: Mapping[str, Any]) -> str:
    return (
        f"agreement {_show(figures['agreement'])}, linear kappa "
        f"{_show(figures['linear_kappa'])} (n={figures['n']})"
    )


def _blind_lines(rounds: Mapping[str, Any] | None) -> list[str]:
    """The model against blind and sighted reviews, side by side (a blind round)."""
    if rounds is None:
        return []
    if not rounds["blind_reviews"]:
        return [
            "model / blind reviews: no blind reviews (deal a blind round: the portal's job "
            "page, or `cenr export JOB --xlsx FILE --reviewers A,B --blind`)"
        ]
    rows = [("all reviewers", rounds["overall"])]
    rows += [(row["reviewer"], row) for row in rounds["reviewers"]]
    return [
        f"model / {name}, blind: {_against(row['blind'])}; sighted: {_against(row['sighted'])}"
        for name, row in rows
    ]
