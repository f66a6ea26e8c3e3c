"""The HTML bundle: a job's results as static pages that work offline, zipped.

One folder ``cenr-JOB/`` inside the zip:

``index.html``          every protocol in a table that sorts (click a heading) and filters
                        (words, level), least certain first, with failures listed below;
``protocols/NNNNN.html`` one page per protocol: its fields, each token's background shaded
                        by its weight (the weight on hover), every level's probability, and
                        for the label-wise model a switch between the levels' weights;
``model.html``          the model card: metrics, calibration, per-level scores, the
                        confusion matrix as a picture (``assets/confusion.svg``), codebook;
``assets/``             one stylesheet and one script, shared by every page.

Document text is untrusted: everything that comes from a document (or a file name) is
HTML-escaped, page names are sequence numbers (never a protocol ID), and every page
carries a Content-Security-Policy that allows only the bundle's own script, stylesheet
and picture, no inline script or style, no network. Shades use the workbook's scale
(:mod:`exporters.scale`) so both exports agree. Pages are written into the zip
one at a time, reading one protocol's tokens at a time: memory does not grow with the job.
"""

from __future__ import annotations

import functools
import html
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO

from exporters.evidence import describe_weight_by_field, strongest_passages
from exporters.files import write_zip_atomically
from exporters.reliability import reliability_svg
from exporters.scale import FILLS, legend_rows, shade, shade_css
from schema.codebook import Codebook
from schema.faithfulness import EXPLANATION as FAITHFULNESS_EXPLANATION
from schema.faithfulness import Faithfulness
from schema.views import ReviewData, ReviewRow, TokenSpan

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'"
)


def h(value: object) -> str:
    """Text made safe for HTML content and quoted attributes (NUL becomes U+FFFD)."""
    return html.escape(str(value), quote=True).replace("\x00", "\ufffd")


def fraction(value: float | None, places: int = 3) -> str:
    return "" if value is None else f"{value:.{places}f}"


def page(title: str, body: str, depth: int = 0) -> str:
    """A whole page; ``depth`` is how many folders below the bundle's root it lies."""
    up = "../" * depth
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{h(title)}</title>\n"
        f'<link rel="stylesheet" href="{up}assets/cenr.css">\n'
        f'<script src="{up}assets/cenr.js" defer></script>\n'
        f"</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _asset(name: str) -> str:
    return (resources.files("exporters") / "assets" / name).read_text(encoding="utf-8")


@functools.cache
def stylesheet() -> str:
    """The pages' stylesheet: ``assets/cenr.css`` and the shades of the colour scale."""
    return _asset("cenr.css") + shade_css()


@functools.cache
def script() -> str:
    """The pages' one script, ``assets/cenr.js``."""
    return _asset("cenr.js")


def legend() -> str:
    items = "".join(f'<li class="s{step}">{h(label)}</li>' for label, step in legend_rows())
    return (
        '<p class="muted">Token shade: its weight relative to an even share over the '
        "protocol's tokens (weight &times; number of tokens), so shades are comparable "
        "across protocols of any length; hover a word for its weight.</p>"
        f'<ul class="legend" aria-label="legend">{items}</ul>'
    )


def reviewer_levels(reviews: Sequence[tuple[str, str]]) -> str:
    return "; ".join(f"{level} ({name})" for name, level in reviews)


class HtmlBundle:
    """Writes one job's bundle into an open zip file; call :meth:`write` once."""

    def __init__(
        self,
        data: ReviewData,
        codebook: Codebook,
        spans_of: Callable[[int], list[TokenSpan]],
    ) -> None:
        self.data = data
        self.codebook = codebook
        self.spans_of = spans_of
        self.root = f"cenr-{data.job_id}"
        self.labelwise = data.attention == "labelwise"

    def write(self, archive: zipfile.ZipFile) -> None:
        def put(name: str, text: str) -> None:
            archive.writestr(f"{self.root}/{name}", text)

        put("assets/cenr.css", stylesheet())
        put("assets/cenr.js", script())
        put("assets/confusion.svg", self.confusion_svg())
        put("assets/reliability.svg", reliability_svg(self.reliability_series()))
        put("index.html", self.index())
        put("model.html", self.model_card())
        rows = self.data.rows
        for number, row in enumerate(rows, start=1):
            neighbours = (number - 1 if number > 1 else None, number + 1)
            last = number == len(rows)
            put(
                f"protocols/{number:05d}.html",
                self.protocol(number, row, neighbours[0], None if last else neighbours[1]),
            )

    # -- index -----------------------------------------------------------------------
    def index(self) -> str:
        data = self.data
        counts = Counter(row.level_code for row in data.rows)
        options = "".join(
            f'<option value="{h(level.code)}">{h(level.code)} {h(level.name)} '
            f"({counts.get(level.code, 0)})</option>"
            for level in self.codebook.levels
        )
        headings = [
            ("#", "number"), ("Protocol ID", "text"), ("Title", "text"),
            ("Level", "text"), ("Confidence", "number"), ("Faithfulness", "number"),
            ("Reviewer level", "text"),
        ]  # fmt: skip
        head = "".join(
            f'<th data-type="{kind}"{" class=num" if kind == "number" else ""}>'
            f'<button type="button">{h(name)}</button></th>'
            for name, kind in headings
        )
        body = "".join(self._index_row(n, row) for n, row in enumerate(data.rows, start=1))
        failures = self._failures()
        return page(
            f"Job {data.job_id}: review",
            f"<header><h1>Job {h(data.job_id)}</h1>"
            f'<p class="muted">Model <a href="model.html">{h(data.model)}</a> '
            f"({h(data.attention)} attention); {len(data.rows)} protocol(s) classified, "
            f"{len(data.failures)} failed; exported {h(_now())}. Least certain first: "
            "lowest calibrated confidence, then lowest faithfulness.</p></header>"
            '<div class="controls">'
            '<label>Filter <input type="search" id="filter" '
            'placeholder="words in ID, title or level"></label>'
            f'<label>Level <select id="level-filter"><option value="">all</option>{options}'
            "</select></label>"
            f'<span class="muted"><span id="shown">{len(data.rows)}</span> of '
            f"{len(data.rows)} shown</span></div>"
            f'<table id="protocols"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
            f"{failures}<h2>Legend</h2>{legend()}",
        )

    def _index_row(self, number: int, row: ReviewRow) -> str:
        level = self.codebook.levels[row.level_index]
        reviews = reviewer_levels(self.data.reviews.get(row.item_id, []))
        faith = row.faithfulness
        return (
            f'<tr data-level="{h(level.code)}">'
            f'<td class="num" data-value="{number}">{number}</td>'
            f'<td><a href="protocols/{number:05d}.html">{h(row.protocol_id)}</a></td>'
            f"<td>{h(row.title)}</td>"
            f"<td>{h(level.code)} {h(level.name)}</td>"
            f'<td class="num" data-value="{row.confidence:.6f}">{row.confidence:.2f}</td>'
            f'<td class="num" data-value="{"" if faith is None else f"{faith:.6f}"}">'
            f"{fraction(faith, 2)}</td>"
            f"<td>{h(reviews)}</td></tr>"
        )

    def _failures(self) -> str:
        if not self.data.failures:
            return ""
        rows = "".join(
            f"<tr><td>{h(f.file)}</td><td>{f.position or ''}</td><td>{h(f.protocol_id)}</td>"
            f"<td>{h(f.error or '')}</td></tr>"
            for f in self.data.failures
        )
        return (
            f'<h2 class="warn">Not classified ({len(self.data.failures)})</h2>'
            '<table id="failures"><thead><tr><th>File</th><th>Row</th><th>Protocol ID</th>'
            f"<th>Reason</th></tr></thead><tbody>{rows}</tbody></table>"
        )

    # -- one protocol ----------------------------------------------------------------
    def protocol(self, number: int, row: ReviewRow, before: int | None, after: int | None) -> str:
        level = self.codebook.levels[row.level_index]
        spans = self.spans_of(row.prediction_id)
        faith = row.faithfulness
        facts = [
            ("Predicted level", f"{level.code} {level.name}"),
            ("Calibrated confidence", f"{row.confidence:.3f}"),
            ("What the heat-map shows", row.faithfulness_verdict),
            ("Where the weight is", describe_weight_by_field(spans)),
            ("Faithfulness", "not measured" if faith is None else _faithfulness_parts(row)),
            ("Tokens", f"{row.n_tokens}" + (f", {row.tokens_cut} cut" if row.tokens_cut else "")),
            ("File", row.file),
        ]
        reviews = self.data.reviews.get(row.item_id)
        if reviews:
            facts.append(("Reviewer levels", reviewer_levels(reviews)))
        facts_html = "".join(f"<dt>{h(k)}</dt><dd>{h(v)}</dd>" for k, v in facts)
        passages = strongest_passages(row.fields, spans)
        if passages:
            quoted = "".join(f"<li><b>{h(name)}:</b> {h(text)}</li>" for name, text in passages)
            facts_html += f'<dt>Strongest passages</dt><dd><ul class="passages">{quoted}</ul></dd>'
        probabilities = "".join(
            f"<tr><td>{h(lv.code)} {h(lv.name)}</td>"
            f'<td><meter min="0" max="1" value="{p:.4f}">{p:.3f}</meter></td>'
            f'<td class="num">{p:.3f}</td></tr>'
            for lv, p in zip(self.codebook.levels, row.probabilities, strict=False)
        )
        pager = '<nav class="pager">'
        pager += f'<a href="{before:05d}.html">&larr; previous</a>' if before else "<span></span>"
        pager += '<a href="../index.html">all protocols</a>'
        pager += f'<a href="{after:05d}.html">next &rarr;</a>' if after else "<span></span>"
        pager += "</nav>"
        return page(
            f"{row.protocol_id}: level {level.code}",
            f'<header><nav><a href="../index.html">&larr; all protocols</a> &middot; '
            f'<a href="../model.html">model card</a></nav>'
            f"<h1>{h(row.protocol_id)}: {h(row.title)}</h1></header>"
            f'<dl class="facts">{facts_html}</dl>'
            f'<p class="muted">{h(FAITHFULNESS_EXPLANATION)}</p>'
            "<h2>Probability of each level</h2>"
            f"<table><tbody>{probabilities}</tbody></table>"
            f"<h2>Text, shaded by weight</h2>{self.level_switch(row)}{legend()}"
            f"{self.text(row, spans)}{pager}",
            depth=1,
        )

    def level_switch(self, row: ReviewRow) -> str:
        level = self.codebook.levels[row.level_index]
        if not self.labelwise:
            return f'<p class="muted">Weights for the predicted level, {h(level.code)}.</p>'
        options = "".join(
            f'<option value="{i}" data-code="{h(lv.code)}"'
            f"{' selected' if i == row.level_index else ''}>{h(lv.code)} {h(lv.name)}</option>"
            for i, lv in enumerate(self.codebook.levels)
        )
        return (
            '<div class="controls"><label>Show the evidence for level '
            f'<select id="level-switch">{options}</select></label>'
            f'<span class="muted">showing: <span id="showing">{h(level.code)} '
            f"{h(level.name)}</span></span></div>"
        )

    def text(self, row: ReviewRow, spans: Iterable[TokenSpan]) -> str:
        """The fields, each token a span shaded by weight, the text between escaped."""
        by_field: dict[str, list[TokenSpan]] = {}
        for span in spans:
            by_field.setdefault(span.field, []).append(span)
        n = max(row.n_tokens, 1)
        parts = []
        for name, value in row.fields.items():
            if not value:
                continue
            pieces, cursor = [], 0
            for span in sorted(by_field.get(name, []), key=lambda s: s.start):
                if span.start < cursor or span.end > len(value):
                    continue
                pieces.append(h(value[cursor : span.start]))
                pieces.append(self._token(value[span.start : span.end], span, n))
                cursor = span.end
            pieces.append(h(value[cursor:]))
            parts.append(f'<section><h3>{h(name)}</h3><p class="text">{"".join(pieces)}</p>'
                         "</section>")  # fmt: skip
        return "".join(parts)

    def _token(self, text: str, span: TokenSpan, n: int) -> str:
        title = f"weight {span.weight:.4f} ({span.weight * n:.1f}x an even share)"
        extra = ""
        if self.labelwise and span.level_weights:
            shades = "".join(str(shade(w * n)) for w in span.level_weights)
            weights = " ".join(f"{w:.4f}" for w in span.level_weights)
            extra = f' data-s="{shades}" data-w="{weights}"'
        return f'<span class="s{shade(span.weight * n)}" title="{title}"{extra}>{h(text)}</span>'

    # -- model card ------------------------------------------------------------------
    def model_card(self) -> str:
        data = self.data
        metrics = data.model_metrics
        calibration = metrics.get("calibration", {})
        training = metrics.get("training", {})
        facts = [
            ("Model version", data.model),
            ("Attention", data.attention),
            ("Linear part (TF-IDF words and pairs)", training.get("linear", "none")),
            ("Weight of the attention part beside it", training.get("attention_weight")),
            ("Trained at", data.model_created_at),
            ("Training data fingerprint (SHA-256)", data.data_fingerprint),
            ("Held-out protocols", metrics.get("n")),
            ("Held-out accuracy", fraction(metrics.get("accuracy"))),
            ("Held-out macro-F1", fraction(metrics.get("macro_f1"))),
            ("Held-out ECE (calibrated)", fraction(metrics.get("ece"))),
            ("Calibration temperature", f"{fraction(calibration.get('temperature'))} "
             f"({calibration.get('method', 'fitted')})"),
            ("Validation ECE before / after", f"{fraction(calibration.get('ece_before'))} / "
             f"{fraction(calibration.get('ece_after'))}"),
        ]  # fmt: skip
        facts_html = "".join(
            f"<dt>{h(k)}</dt><dd>{h(v if v is not None else '')}</dd>" for k, v in facts
        )
        per_class = metrics.get("per_class", {})
        scores = "".join(
            f"<tr><td>{h(code)} {h(s.get('name', ''))}</td>"
            f'<td class="num">{fraction(s.get("precision"))}</td>'
            f'<td class="num">{fraction(s.get("recall"))}</td>'
            f'<td class="num">{fraction(s.get("f1"))}</td>'
            f'<td class="num">{h(s.get("support", ""))}</td></tr>'
            for code, s in per_class.items()
        )
        levels = "".join(
            f"<dt>{h(lv.code)} {h(lv.name)}</dt><dd>{h(lv.definition)}</dd>"
            for lv in self.codebook.levels
        )
        matrix = (
            '<img class="matrix" src="assets/confusion.svg" alt="confusion matrix of the '
            'held-out protocols: true level by row, predicted level by column">'
            if metrics.get("confusion_matrix")
            else '<p class="muted">No confusion matrix was saved with this model.</p>'
        )
        return page(
            f"Model {data.model}",
            '<header><nav><a href="index.html">&larr; all protocols</a></nav>'
            f"<h1>Model card: {h(data.model)}</h1></header>"
            f'<dl class="facts">{facts_html}</dl>'
            "<h2>Per level (held-out)</h2><table><thead><tr><th>Level</th>"
            '<th class="num">Precision</th><th class="num">Recall</th><th class="num">F1</th>'
            f'<th class="num">Support</th></tr></thead><tbody>{scores}</tbody></table>'
            f"<h2>Confusion matrix (held-out)</h2>{matrix}"
            f"<h2>Calibration</h2>{self.calibration_section()}"
            f'<h2>Codebook</h2><dl class="facts">{levels}</dl>',
        )

    def reliability_series(self) -> list[tuple[str, list[dict[str, Any]]]]:
        metrics = self.data.model_metrics
        calibration = metrics.get("calibration", {})
        return [
            ("validation, before calibration", calibration.get("reliability_before", [])),
            ("validation, after calibration", calibration.get("reliability_after", [])),
            ("held-out, calibrated", metrics.get("reliability", [])),
        ]

    def calibration_section(self) -> str:
        """The reliability diagram and, when the fit fell back, the reason in words."""
        note = self.data.model_metrics.get("calibration", {}).get("note")
        if not any(points for _, points in self.reliability_series()):
            return '<p class="muted">No reliability figures were saved with this model.</p>'
        return (
            (f'<p class="warn">{h(note[:1].upper() + note[1:])}.</p>' if note else "")
            + '<p class="muted">Each point is a bin of predictions by confidence: how sure '
            "the model was against how often it was right. On the dotted diagonal, 80% "
            "confident means right 80% of the time; below it, over-confident. A point's "
            "size follows its count.</p>"
            '<img class="matrix" src="assets/reliability.svg" alt="reliability diagram: '
            'mean confidence against share right, per confidence bin">'
        )

    def confusion_svg(self) -> str:
        """The held-out confusion matrix: rows true, columns predicted, shaded by row share."""
        matrix: list[list[int]] = self.data.model_metrics.get("confusion_matrix") or []
        codes = [level.code for level in self.codebook.levels][: len(matrix)]
        cell, left, top = 56, 90, 70
        size = len(codes)
        width, height = left + cell * size + 20, top + cell * size + 20
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="14">',
            f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
            f'<text x="{left + cell * size / 2}" y="20" text-anchor="middle" '
            'font-weight="bold">predicted level</text>',
            f'<text x="20" y="{top + cell * size / 2}" text-anchor="middle" font-weight="bold" '
            f'transform="rotate(-90 20 {top + cell * size / 2})">true level</text>',
        ]
        for j, code in enumerate(codes):
            x = left + cell * j + cell / 2
            parts.append(f'<text x="{x}" y="{top - 12}" text-anchor="middle">{h(code)}</text>')
            y = top + cell * j + cell / 2 + 5
            parts.append(f'<text x="{left - 12}" y="{y}" text-anchor="end">{h(code)}</text>')
        for i, counts in enumerate(matrix[:size]):
            total = sum(counts) or 1
            for j, count in enumerate(counts[:size]):
                share = count / total
                step = min(5, int(share * 6)) if count else 0
                x, y = left + cell * j, top + cell * i
                colour = "#ffffff" if step >= 4 else "#000000"
                parts.append(
                    f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="#{FILLS[step]}" '
                    'stroke="#999999"/>'
                    f'<text x="{x + cell / 2}" y="{y + cell / 2 + 5}" text-anchor="middle" '
                    f'fill="{colour}">{int(count)}</text>'
                )
        parts.append("</svg>\n")
        return "".join(parts)


def _faithfulness_parts(row: ReviewRow) -> str:
    """The score with its two parts and what removing or keeping the top 20% does."""
    assert row.faithfulness is not None
    record = Faithfulness.from_detail(row.faithfulness_detail)
    if record is None:
        return f"{row.faithfulness:+.2f}"
    last = record.steps[-1]
    return (
        f"{record.score:+.2f} nats: comprehensiveness {record.comprehensiveness:+.2f}, "
        f"sufficiency {record.sufficiency:+.2f}. Removing the top {last.fraction:.0%} of "
        f"words {'changes' if last.removal_changes_level else 'does not change'} the level; "
        f"keeping only them {'keeps' if last.keeping_keeps_level else 'does not keep'} it."
    )


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def write_html_bundle(
    path: Path,
    data: ReviewData,
    codebook: Codebook,
    spans_of: Callable[[int], list[TokenSpan]],
) -> Path:
    """Write the job's HTML bundle as a zip at ``path`` (a temporary name, then renamed)."""

    def build(out: BinaryIO) -> None:
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            HtmlBundle(data, codebook, spans_of).write(archive)

    return write_zip_atomically(path, build)
