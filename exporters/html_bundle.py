"""The HTML bundle: a job's results as static pages that work offline, zipped.

One folder ``cenr-JOB/`` inside the zip:

``index.html``          every protocol in a table that sorts (click a heading) and filters
                        (words, level), least certain first, with failures listed below;
``protocols/NNNNN.html`` one page per protocol, named by its job item (``NNNNN``,
                        :func:`exporters.links.page_path`, so a workbook row links to it):
                        first the model's level in its colour, the confidence as a
                        percentage, how far the shading explains the level (in words; the
                        erasure test's figures folded under "Technical"), a "second look"
                        notice and the strongest passages, each a link to its place in the
                        text; then the fields, the codebook's evidence fields first, under
                        their display names, each shaded word's background by its weight
                        (the weight on hover; below an even share: unshaded), paragraphs
                        without strong shading folded (:meth:`HtmlBundle.fields`); every
                        level's probability, and for the label-wise model a switch between
                        the levels' weights;
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
protocol page includes too, with the same stylesheet. Page names are job item numbers
(never a protocol ID), and every page carries a Content-Security-Policy that allows only
the bundle's own script, stylesheet and picture, no inline script or style, no network.
Shades use the workbook's scale (:mod:`exporters.scale`) so both exports agree. Pages
are written into the zip one at a time, reading one protocol's tokens at a time: memory
does not grow with the job.
"""

from __future__ import annotations

import functools
import re
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
from exporters.links import page_path
from exporters.model_card import model_card
from exporters.palette import palette_css
from exporters.reliability import reliability_svg
from exporters.rendering import escape, render
from exporters.scale import FILLS, shade, shade_css
from schema.codebook import Codebook, field_key
from schema.evidence import Passage
from schema.faithfulness import EXPLANATION as FAITHFULNESS_EXPLANATION
from schema.faithfulness import Faithfulness
from schema.second_look import (
    BANDS,
    STRENGTH_WORDS,
    band,
    evidence_fields_text,
    percent,
    second_look,
    strength,
)
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
    ("Confidence", "number"), ("Shading explains it", "number"), ("Second look", "text"),
    ("Reviewer level", "text"),
)  # fmt: skip
BLIND_HEADINGS = INDEX_HEADINGS[:3]  # a blind round: #, Protocol ID, Title


def _asset(name: str) -> str:
    return (resources.files("exporters") / "assets" / name).read_text(encoding="utf-8")


@functools.cache
def stylesheet() -> str:
    """The pages' stylesheet: ``assets/cenr.css``, the shades of the colour scale and the
    levels' and confidence bands' colours (:func:`exporters.palette.palette_css`)."""
    return _asset("cenr.css") + shade_css() + palette_css()


@functools.cache
def script() -> str:
    """The pages' one script, ``assets/cenr.js``."""
    return _asset("cenr.js")


def reviewer_levels(reviews: Sequence[tuple[str, str]]) -> str:
    return "; ".join(f"{level} ({name})" for name, level in reviews)


# -- a field's paragraphs ------------------------------------------------------------
PASSAGES_SHOWN = 2  # strongest passages listed at the top of a page (as the workbook)
STRONG = 3  # a token at this shade (4x an even share) or more: its paragraph shows
FOLD_WORDS = 25  # a run of weakly shaded paragraphs shorter than this is shown, not folded
PREVIEW_WORDS = 14  # words of a folded run shown in its one-line summary
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n\s*")
_LINE_BREAK = re.compile(r"\s*\n\s*")


def paragraphs(text: str) -> list[tuple[int, int]]:
    """A field's paragraphs as ``(start, end)`` into ``text``, blank space around them
    left out: split at blank lines when the text has any (then a single line break is a
    wrapped line, as in text files), else at every line break (as in a spreadsheet cell)."""
    splitter = _BLANK_LINE if _BLANK_LINE.search(text) else _LINE_BREAK
    found, at = [], 0
    for gap in [*splitter.finditer(text), None]:
        stop = gap.start() if gap is not None else len(text)
        start, end = at, stop
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            found.append((start, end))
        at = gap.end() if gap is not None else len(text)
    return found


def _tokens_in(value: str, spans: Iterable[TokenSpan]) -> list[TokenSpan]:
    """A field's tokens in text order, none overlapping another or past the text."""
    kept, cursor = [], 0
    for span in sorted(spans, key=lambda s: s.start):
        if span.start < cursor or span.end > len(value) or span.end <= span.start:
            continue
        kept.append(span)
        cursor = span.end
    return kept


def _snapped(value: str, tokens: Sequence[TokenSpan], start: int, end: int) -> tuple[int, int]:
    """A passage's range without the blank space at its ends, widened to whole tokens
    (so its span and the tokens' spans nest)."""
    start, end = max(0, start), min(len(value), end)
    while start < end and value[start].isspace():
        start += 1
    while end > start and value[end - 1].isspace():
        end -= 1
    for token in tokens:
        if token.start < start < token.end:
            start = token.start
        if token.start < end < token.end:
            end = token.end
    return start, end


def _placed(passage: Passage, fields: dict[str, str]) -> bool:
    """Whether a stored passage lies inside its field's text (so it can be linked to)."""
    text = fields.get(passage.field) or ""
    return 0 <= passage.start < passage.end <= len(text) and bool(
        text[passage.start : passage.end].strip()
    )


def _fold(first: str, count: int, words: int, body: str) -> str:
    """Paragraphs without strong shading, folded: a summary line (their first words and
    how many there are) that opens them in one click. ``body`` is escaped HTML."""
    head = first.split()
    preview = " ".join(head[:PREVIEW_WORDS]) + (" ..." if len(head) > PREVIEW_WORDS else "")
    what = f"{count} paragraphs" if count > 1 else "1 paragraph"
    return (
        f'<details class="fold"><summary><span class="preview">{escape(preview)}</span> '
        f'<span class="muted">({what}, {words} words, no strong shading: click to open)</span>'
        f"</summary>{body}</details>"
    )


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
        # pages are named by job item (exporters.links: a workbook row links to its
        # page); previous and next follow the rows' order, as the index lists them
        names = [page_path(row.item_id) for row in rows]
        for number, (row, name) in enumerate(zip(rows, names, strict=True)):
            spans = [] if self.blind else self.spans_of(row.prediction_id)
            context = self.protocol_context(row, spans)
            context.update(
                csp=CSP_ATTRIBUTE, up="../",
                before=_sibling(names[number - 1]) if number else None,
                after=_sibling(names[number + 1]) if number + 1 < len(rows) else None,
            )  # fmt: skip
            put(name, render("bundle/protocol.html", **context))

    # -- index -----------------------------------------------------------------------
    def index_context(self) -> dict[str, Any]:
        data = self.data
        counts = Counter(row.level_code for row in data.rows)
        rows = [
            {"number": number, "protocol_id": row.protocol_id, "title": row.title,
             "href": page_path(row.item_id),
             "level": self.codebook.levels[row.level_index], "level_index": row.level_index,
             "confidence": row.confidence, "percent": percent(row.confidence),
             "band": band(row.confidence),
             "faithfulness": row.faithfulness, "strength": strength(row.faithfulness_detail),
             "second_look": "" if self.blind else self.second_look_of(row),
             "reviews": reviewer_levels(data.reviews.get(row.item_id, []))}
            for number, row in enumerate(self.rows, start=1)
        ]  # fmt: skip
        return {
            "csp": CSP_ATTRIBUTE, "up": "", "job_id": data.job_id, "model": data.model,
            "attention": data.attention, "rows": rows, "failures": data.failures,
            "exported": _now(), "headings": BLIND_HEADINGS if self.blind else INDEX_HEADINGS,
            "level_counts": [(lv, counts.get(lv.code, 0)) for lv in self.codebook.levels],
            "blind": self.blind, "levels_class": f"levels{len(self.codebook.levels)}",
        }  # fmt: skip

    def second_look_of(self, row: ReviewRow) -> str:
        """Why the row needs a second look, in words ('' when it does not), from its
        stored evidence by field (a row stored without it: its confidence and
        faithfulness alone; the index reads no tokens)."""
        shares = row.evidence.fields if row.evidence is not None else []
        look = second_look(
            self.codebook, row.level_index, row.confidence, row.faithfulness_detail, shares
        )
        return look.describe()

    # -- one protocol ----------------------------------------------------------------
    def protocol_context(self, row: ReviewRow, spans: Sequence[TokenSpan]) -> dict[str, Any]:
        """What ``shared/protocol.html`` shows of one protocol (the bundle's page and the
        portal's): first what a reviewer decides by (the model's level, confidence, how
        far the shading explains it, whether it needs a second look, where its evidence
        is and the strongest passages), then the fields, evidence fields first, then
        every level's probability and, folded, the technical figures (blind: the facts of
        the file and the text alone)."""
        if self.blind:
            return self._blind_context(row)
        codebook = self.codebook
        level = codebook.levels[row.level_index]
        evidence = evidence_for(row, spans)
        shown = [p for p in evidence.passages[:PASSAGES_SHOWN] if _placed(p, row.fields)]
        passages = [
            {"href": f"#passage-{number}", "field": codebook.field_name(p.field),
             "text": p.text}
            for number, p in enumerate(shown, start=1)
        ]  # fmt: skip
        look = second_look(
            codebook, row.level_index, row.confidence, row.faithfulness_detail,
            evidence.fields,
        )  # fmt: skip
        power = strength(row.faithfulness_detail)
        tokens = f"{row.n_tokens}" + (f", {row.tokens_cut} cut" if row.tokens_cut else "")
        technical = [
            ("Faithfulness (erasure test)",
             "not measured" if row.faithfulness is None else _faithfulness_parts(row), ""),
            ("The test's verdict", row.faithfulness_verdict, "verdict"),
            ("Calibrated confidence", f"{row.confidence:.4f}", ""),
            ("Words read by the model (tokens)", tokens, ""),
            ("File", row.file, ""),
        ]  # fmt: skip
        reviews = self.data.reviews.get(row.item_id)
        return {
            "protocol_id": row.protocol_id, "title": row.title, "level": level,
            "level_index": row.level_index, "levels": codebook.levels,
            "levels_class": f"levels{len(codebook.levels)}",
            "labelwise": self.labelwise,
            "confidence": percent(row.confidence), "band": band(row.confidence),
            "band_words": dict((name, words) for name, words, _ in BANDS)[band(row.confidence)],
            "strength": power, "strength_words": STRENGTH_WORDS[power],
            "second_look": look.reasons,
            "evidence": self.evidence_text(evidence.fields),
            "evidence_fields": evidence_fields_text(codebook) if codebook.evidence_fields
            else "",
            "passages": passages,
            "reviews": reviewer_levels(reviews) if reviews else "",
            "technical": technical,
            "explanation": FAITHFULNESS_EXPLANATION,
            "probabilities": [
                (lv, p, percent(p))
                for lv, p in zip(codebook.levels, row.probabilities, strict=False)
            ],
            "fields": self.fields(row, spans, shown),
            "blind": False,
        }  # fmt: skip

    def _blind_context(self, row: ReviewRow) -> dict[str, Any]:
        """A blind round's page: the protocol's fields unshaded, its file, nothing else."""
        return {
            "protocol_id": row.protocol_id, "title": row.title, "blind": True,
            "facts": [("File", row.file, "")], "fields": self.fields(row, []),
        }  # fmt: skip

    def evidence_text(self, shares: Sequence[tuple[str, float]]) -> str:
        """``Partners 64%, Study design 31%``: each field's share of the shading, by the
        field's display name (fields under 1% left out)."""
        shown = [
            f"{self.codebook.field_name(name)} {share:.0%}"
            for name, share in shares
            if share >= 0.01
        ]
        return ", ".join(shown) or "no words shaded"

    def ordered_fields(self, fields: dict[str, str]) -> list[tuple[str, str]]:
        """The non-empty fields, the codebook's evidence fields first (in the codebook's
        order), then the others as the protocol has them."""
        wanted = [field_key(f) for f in self.codebook.evidence_fields]
        present = [(name, value) for name, value in fields.items() if value]
        first = sorted(
            (f for f in present if self.codebook.is_evidence_field(f[0])),
            key=lambda f: wanted.index(field_key(f[0])),
        )
        return first + [f for f in present if not self.codebook.is_evidence_field(f[0])]

    def fields(
        self,
        row: ReviewRow,
        spans: Iterable[TokenSpan],
        passages: Sequence[Passage] = (),
    ) -> list[dict[str, Any]]:
        """Each non-empty field, evidence fields first (:meth:`ordered_fields`), under its
        display name, as HTML (``html``): its paragraphs, each token at a shade above 0
        in a span shaded by weight, each shown passage in a span ``passage-N`` (the
        links at the top of the page go there), all text escaped here
        (:func:`exporters.rendering.escape`).

        A paragraph is *strongly shaded* when it holds a token at shade :data:`STRONG` or
        more (4x an even share of the weight) or part of a shown passage; runs of
        paragraphs without strong shading are folded (``<details>``, one click opens
        them) unless they are shorter than :data:`FOLD_WORDS` words. A blind page folds
        nothing (it has no shading).

        Written in Python rather than looped over in the template: a protocol of 3,000
        tokens was 3,000 iterations of the template's loop, most of the bundle's time."""
        by_field: dict[str, list[TokenSpan]] = {}
        for span in spans:
            by_field.setdefault(span.field, []).append(span)
        n = max(row.n_tokens, 1)
        shown = []
        for name, value in self.ordered_fields(row.fields):
            tokens = _tokens_in(value, by_field.get(name, []))
            marks = [
                (number, *_snapped(value, tokens, p.start, p.end))
                for number, p in enumerate(passages, start=1)
                if p.field == name
            ]
            html = self._field_html(value, tokens, marks, n)
            shown.append({
                "name": self.codebook.field_name(name), "field": name, "html": html,
                "evidence": self.codebook.is_evidence_field(name),
            })  # fmt: skip
        return shown

    def _field_html(
        self,
        value: str,
        tokens: Sequence[TokenSpan],
        marks: Sequence[tuple[int, int, int]],
        n: int,
    ) -> Markup:
        """A field's paragraphs, runs of weakly shaded ones folded (see :meth:`fields`)."""
        html: list[str] = []
        run: list[tuple[str, str]] = []  # weak paragraphs not yet written: (html, text)

        def flush() -> None:
            if not run:
                return
            words = sum(len(text.split()) for _, text in run)
            body = "".join(f'<p class="text">{p}</p>' for p, _ in run)
            if self.blind or words < FOLD_WORDS:
                html.append(body)
            else:
                html.append(_fold(run[0][1], len(run), words, body))
            run.clear()

        at = 0
        for start, end in paragraphs(value):
            inside = []
            while at < len(tokens) and tokens[at].start < end:
                if tokens[at].start >= start and tokens[at].end <= end:
                    inside.append(tokens[at])
                at += 1
            mine = [
                (k, max(s, start), min(e, end), s >= start)
                for k, s, e in marks
                if s < end and e > start
            ]
            body, strong = self._paragraph(value, start, end, inside, mine, n)
            if strong or mine:
                flush()
                html.append(f'<p class="text">{body}</p>')
            else:
                run.append((body, value[start:end]))
        flush()
        return Markup("".join(html))  # noqa: S704 (escaped in _paragraph and _fold)

    def _paragraph(
        self,
        value: str,
        start: int,
        end: int,
        tokens: Sequence[TokenSpan],
        marks: Sequence[tuple[int, int, int, bool]],
        n: int,
    ) -> tuple[str, bool]:
        """One paragraph's HTML (``value[start:end]``) and whether it is strongly shaded.
        ``marks``: (passage number, start, end, whether the passage starts here), within
        the paragraph and on token boundaries; a passage's span has its id where it
        starts (a passage over two paragraphs has a span in each)."""
        opens: dict[int, list[str]] = {}
        closes: dict[int, int] = {}
        for number, first, last, here in marks:
            ident = f' id="passage-{number}"' if here else ""
            if last <= first:
                opens.setdefault(first, []).append(f'<span class="passage"{ident}></span>')
                continue
            opens.setdefault(first, []).append(f'<span class="passage"{ident}>')
            closes[last] = closes.get(last, 0) + 1
        shaded: dict[int, tuple[TokenSpan, str]] = {}
        strong = False
        for span in tokens:
            tag, level = self._token(span, n)
            strong = strong or level >= STRONG
            if tag is not None:
                shaded[span.start] = (span, tag)
        html, cursor = [], start
        for place in sorted({*opens, *closes, *shaded, end}):
            if place < cursor:
                continue
            html.append(escape(value[cursor:place]))
            cursor = place
            html.extend("</span>" for _ in range(closes.get(place, 0)))
            html.extend(opens.get(place, ()))
            if place in shaded:
                span, tag = shaded[place]
                html += (tag, escape(value[span.start : span.end]), "</span>")
                cursor = span.end
        return "".join(html), strong

    def _token(self, span: TokenSpan, n: int) -> tuple[str | None, int]:
        """One token's opening tag (its text and ``</span>`` follow) and its shade; None
        for a token below an even share (plain text: no span, a lighter page), unless a
        label-wise page may shade it for another level. The tag holds figures only."""
        level = shade(span.weight * n)
        title = f"weight {span.weight:.4f} ({span.weight * n:.1f}x an even share)"
        css = f' class="s{level}"' if level else ""
        if self.labelwise and span.level_weights:
            shades = "".join(str(shade(w * n)) for w in span.level_weights)
            if not level and shades.strip("0") == "":
                return None, level
            weights = " ".join(f"{w:.4f}" for w in span.level_weights)
            return (
                f'<span{css} title="{title}" data-s="{shades}" data-w="{weights}">',
                level,
            )
        if not level:
            return None, level
        return f'<span{css} title="{title}">', level

    # -- model card ------------------------------------------------------------------
    def model_context(self) -> dict[str, Any]:
        """The model card (:func:`exporters.model_card.model_card`): plain facts first,
        the technical figures under their own heading at the bottom."""
        data = self.data
        metrics = data.model_metrics
        card = model_card(data, self.codebook)
        return {
            "csp": CSP_ATTRIBUTE, "up": "", "model": data.model, "facts": card.facts,
            "per_level": card.per_level, "technical": card.technical,
            "levels": self.codebook.levels,
            "has_matrix": bool(metrics.get("confusion_matrix")),
            "has_reliability": any(points for _, points in self.reliability_series()),
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


def _sibling(name: str) -> str:
    """A page's link to another page of ``protocols/``: its file name alone."""
    return name.rsplit("/", 1)[-1]


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
