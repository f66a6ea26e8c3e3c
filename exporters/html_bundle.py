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

A *blind* bundle (a blind round, ``blind=True``) is the same writer leaving out all the
model said: the index lists ID and title in Protocol ID order, each page the protocol's
fields unshaded, and there is no model card, level, confidence, probability, verdict,
evidence, legend or other reviewer's level.

The pages are Jinja2 templates (``exporters/templates``, :mod:`exporters.rendering`) with
autoescaping: everything that comes from a document (or a file name) is escaped where it
is printed. The protocol page's body is ``shared/protocol.html``, which the portal's
protocol page includes too, with the same stylesheet. Page names are sequence numbers
(never a protocol ID), and every page carries a Content-Security-Policy that allows only
the bundle's own script, stylesheet and picture, no inline script or style, no network.
Shades use the workbook's scale (:mod:`exporters.scale`) so both exports agree. Pages
are written into the zip one at a time, reading one protocol's tokens at a time: memory
does not grow with the job.
"""

from __future__ import annotations

import functools
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO

from markupsafe import Markup

from exporters.evidence import evidence_for
from exporters.files import write_zip_atomically
from exporters.reliability import reliability_svg
from exporters.rendering import escape, fraction, render
from exporters.scale import FILLS, shade, shade_css
from schema.codebook import Codebook
from schema.faithfulness import EXPLANATION as FAITHFULNESS_EXPLANATION
from schema.faithfulness import Faithfulness
from schema.views import ReviewData, ReviewRow, TokenSpan

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'"
)
# Our own constant, printed as it is: escaped, its quotes would be entities (which a
# browser decodes to the same policy, but the page's source should read as the policy).
CSP_ATTRIBUTE = Markup(CSP)  # noqa: S704 (a constant, no document text)
INDEX_HEADINGS = (
    ("#", "number"), ("Protocol ID", "text"), ("Title", "text"), ("Level", "text"),
    ("Confidence", "number"), ("Faithfulness", "number"), ("Reviewer level", "text"),
)  # fmt: skip
BLIND_HEADINGS = INDEX_HEADINGS[:3]  # a blind round: #, Protocol ID, Title


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


def reviewer_levels(reviews: Sequence[tuple[str, str]]) -> str:
    return "; ".join(f"{level} ({name})" for name, level in reviews)


class HtmlBundle:
    """Writes one job's bundle into an open zip file; call :meth:`write` once. The
    ``*_context`` methods give each template its values."""

    def __init__(
        self,
        data: ReviewData,
        codebook: Codebook,
        spans_of: Callable[[int], list[TokenSpan]],
        blind: bool = False,
    ) -> None:
        self.data = data
        # a blind round: nothing the model said (see the module), in Protocol ID order
        self.blind = blind
        self.rows = sorted(data.rows, key=lambda r: r.protocol_id) if blind else data.rows
        self.codebook = codebook
        self.spans_of = spans_of
        self.root = f"cenr-{data.job_id}"
        self.labelwise = data.attention == "labelwise"

    def write(self, archive: zipfile.ZipFile) -> None:
        def put(name: str, text: str) -> None:
            archive.writestr(f"{self.root}/{name}", text)

        put("assets/cenr.css", stylesheet())
        put("assets/cenr.js", script())
        if not self.blind:
            put("assets/confusion.svg", self.confusion_svg())
            put("assets/reliability.svg", reliability_svg(self.reliability_series()))
            put("model.html", render("bundle/model.html", **self.model_context()))
        put("index.html", render("bundle/index.html", **self.index_context()))
        rows = self.rows
        for number, row in enumerate(rows, start=1):
            spans = [] if self.blind else self.spans_of(row.prediction_id)
            context = self.protocol_context(row, spans)
            context.update(
                csp=CSP_ATTRIBUTE, up="../", before=number - 1 or None,
                after=number + 1 if number < len(rows) else None,
            )  # fmt: skip
            put(f"protocols/{number:05d}.html", render("bundle/protocol.html", **context))

    # -- index -----------------------------------------------------------------------
    def index_context(self) -> dict[str, Any]:
        data = self.data
        counts = Counter(row.level_code for row in data.rows)
        rows = [
            {"number": number, "protocol_id": row.protocol_id, "title": row.title,
             "level": self.codebook.levels[row.level_index], "confidence": row.confidence,
             "faithfulness": row.faithfulness,
             "reviews": reviewer_levels(data.reviews.get(row.item_id, []))}
            for number, row in enumerate(self.rows, start=1)
        ]  # fmt: skip
        return {
            "csp": CSP_ATTRIBUTE, "up": "", "job_id": data.job_id, "model": data.model,
            "attention": data.attention, "rows": rows, "failures": data.failures,
            "exported": _now(), "headings": BLIND_HEADINGS if self.blind else INDEX_HEADINGS,
            "level_counts": [(lv, counts.get(lv.code, 0)) for lv in self.codebook.levels],
            "blind": self.blind,
        }  # fmt: skip

    # -- one protocol ----------------------------------------------------------------
    def protocol_context(self, row: ReviewRow, spans: Sequence[TokenSpan]) -> dict[str, Any]:
        """What ``shared/protocol.html`` shows of one protocol (the bundle's page and the
        portal's): its facts, strongest passages, probabilities and shaded text (blind:
        the facts of the file and the text alone)."""
        if self.blind:
            return self._blind_context(row)
        level = self.codebook.levels[row.level_index]
        faith = row.faithfulness
        tokens = f"{row.n_tokens}" + (f", {row.tokens_cut} cut" if row.tokens_cut else "")
        evidence = evidence_for(row, spans)
        facts = [
            ("Predicted level", f"{level.code} {level.name}", "level"),
            ("Evidence by field", evidence.describe(), "evidence"),
            ("Calibrated confidence", f"{row.confidence:.3f}", ""),
            ("What the heat-map shows", row.faithfulness_verdict, "verdict"),
            ("Faithfulness", "not measured" if faith is None else _faithfulness_parts(row), ""),
            ("Tokens", tokens, ""),
            ("File", row.file, ""),
        ]
        reviews = self.data.reviews.get(row.item_id)
        if reviews:
            facts.append(("Reviewer levels", reviewer_levels(reviews), "reviews"))
        return {
            "protocol_id": row.protocol_id, "title": row.title, "level": level,
            "level_index": row.level_index, "levels": self.codebook.levels,
            "labelwise": self.labelwise, "facts": facts,
            "passages": evidence.quoted(),
            "explanation": FAITHFULNESS_EXPLANATION,
            "probabilities": list(zip(self.codebook.levels, row.probabilities, strict=False)),
            "fields": self.fields(row, spans),
            "blind": False,
        }  # fmt: skip

    def _blind_context(self, row: ReviewRow) -> dict[str, Any]:
        """A blind round's page: the protocol's fields unshaded, its file, nothing else."""
        return {
            "protocol_id": row.protocol_id, "title": row.title, "blind": True,
            "facts": [("File", row.file, "")], "fields": self.fields(row, []),
        }  # fmt: skip

    def fields(self, row: ReviewRow, spans: Iterable[TokenSpan]) -> list[tuple[str, Markup]]:
        """Each non-empty field as HTML: its tokens in spans shaded by weight, the text
        between them, all of it escaped here (:func:`exporters.rendering.escape`).

        Written in Python rather than looped over in the template: a protocol of 3,000
        tokens was 3,000 iterations of the template's loop, most of the bundle's time."""
        by_field: dict[str, list[TokenSpan]] = {}
        for span in spans:
            by_field.setdefault(span.field, []).append(span)
        n = max(row.n_tokens, 1)
        shown = []
        for name, value in row.fields.items():
            if not value:
                continue
            html, cursor = [], 0
            for span in sorted(by_field.get(name, []), key=lambda s: s.start):
                if span.start < cursor or span.end > len(value):
                    continue
                if span.start > cursor:
                    html.append(escape(value[cursor : span.start]))
                html.append(self._token(escape(value[span.start : span.end]), span, n))
                cursor = span.end
            if cursor < len(value):
                html.append(escape(value[cursor:]))
            shown.append((name, Markup("".join(html))))  # noqa: S704 (escaped above)
        return shown

    def _token(self, text: str, span: TokenSpan, n: int) -> str:
        """One token's span; ``text`` is escaped already, the rest are figures."""
        level = shade(span.weight * n)
        title = f"weight {span.weight:.4f} ({span.weight * n:.1f}x an even share)"
        if self.labelwise and span.level_weights:
            shades = "".join(str(shade(w * n)) for w in span.level_weights)
            weights = " ".join(f"{w:.4f}" for w in span.level_weights)
            return (
                f'<span class="s{level}" title="{title}" data-s="{shades}" '
                f'data-w="{weights}">{text}</span>'
            )
        return f'<span class="s{level}" title="{title}">{text}</span>'

    # -- model card ------------------------------------------------------------------
    def model_context(self) -> dict[str, Any]:
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
        return {
            "csp": CSP_ATTRIBUTE, "up": "", "model": data.model, "facts": facts,
            "per_class": list(metrics.get("per_class", {}).items()),
            "levels": self.codebook.levels,
            "has_matrix": bool(metrics.get("confusion_matrix")),
            "has_reliability": any(points for _, points in self.reliability_series()),
            "note": calibration.get("note") or "",
        }  # fmt: skip

    def reliability_series(self) -> list[tuple[str, list[dict[str, Any]]]]:
        metrics = self.data.model_metrics
        calibration = metrics.get("calibration", {})
        return [
            ("validation, before calibration", calibration.get("reliability_before", [])),
            ("validation, after calibration", calibration.get("reliability_after", [])),
            ("held-out, calibrated", metrics.get("reliability", [])),
        ]

    def confusion_svg(self) -> str:
        """The held-out confusion matrix: rows true, columns predicted, shaded by row share."""
        matrix: list[list[int]] = self.data.model_metrics.get("confusion_matrix") or []
        codes = [level.code for level in self.codebook.levels][: len(matrix)]
        cell, left, top = 56, 90, 70
        size = len(codes)
        cells = []
        for i, counts in enumerate(matrix[:size]):
            total = sum(counts) or 1
            for j, count in enumerate(counts[:size]):
                step = min(5, int(count / total * 6)) if count else 0
                cells.append({
                    "x": left + cell * j, "y": top + cell * i, "fill": FILLS[step],
                    "colour": "#ffffff" if step >= 4 else "#000000", "count": int(count),
                })  # fmt: skip
        return render(
            "bundle/confusion.svg", cell=cell, left=left, top=top,
            width=left + cell * size + 20, height=top + cell * size + 20,
            middle_x=left + cell * size / 2, middle_y=top + cell * size / 2,
            labels=[(code, left + cell * j + cell / 2, top + cell * j + cell / 2 + 5)
                    for j, code in enumerate(codes)],
            cells=cells,
        )  # fmt: skip


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
    blind: bool = False,
) -> Path:
    """Write the job's HTML bundle as a zip at ``path`` (a temporary name, then renamed);
    ``blind``: nothing the model said (a blind round)."""

    def build(out: BinaryIO) -> None:
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            HtmlBundle(data, codebook, spans_of, blind=blind).write(archive)

    return write_zip_atomically(path, build)
