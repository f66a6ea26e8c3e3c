"""Evidence by field: shares by field and the sentences around the strongest tokens."""

from __future__ import annotations

import time

from schema.evidence import (
    MAX_PASSAGE,
    Evidence,
    Passage,
    evidence_of,
    strongest_passages,
    weight_by_field,
)
from schema.views import TokenSpan

FIELDS = {
    "Background": "Rates are high. Costs are rising fast.",
    "Partners": "None of this matters. A community advisory board will\nreview the survey. Thanks.",
}


def _span(field: str, word: str, weight: float, nth: int = 0) -> TokenSpan:
    start = -1
    for _ in range(nth + 1):
        start = FIELDS[field].index(word, start + 1)
    return TokenSpan(0, word, field, start, start + len(word), weight, None)


def _weights(spans: list[TokenSpan]) -> list[float]:
    return [s.weight for s in spans]


def test_shares_by_field_are_largest_first_and_small_ones_are_left_out() -> None:
    """Hand-computed: Partners 0.9 of 1.0, Background 0.1; a field with no token is listed
    at 0 when named; the words leave out fields under 1%."""
    spans = [
        _span("Partners", "advisory", 0.6),
        _span("Partners", "board", 0.3),
        _span("Background", "Costs", 0.095),
        _span("Background", "Rates", 0.005),
    ]
    shares = weight_by_field(spans, _weights(spans), ["Title", "Background", "Partners"])
    assert [name for name, _ in shares] == ["Partners", "Background", "Title"]
    assert shares[0][1] == 0.9
    assert shares[2] == ("Title", 0.0)
    assert Evidence(shares).describe() == "Partners 90%, Background 10%"
    assert Evidence([("Title", 0.0)]).describe() == "no tokens"
    assert weight_by_field([], [], ["Title"]) == [("Title", 0.0)]  # no weight: all 0


def test_passages_are_whole_sentences_strongest_first_without_repeats() -> None:
    """Two strong tokens in one sentence give that sentence once, its wrapped line
    joined; the next passage is the next sentence holding weight. Each passage carries
    its place and the weight of the tokens inside it."""
    spans = [
        _span("Partners", "advisory", 0.6),
        _span("Partners", "board", 0.3),
        _span("Background", "Costs", 0.1),
    ]
    evidence = evidence_of(FIELDS, spans, _weights(spans))
    assert evidence.quoted() == [
        ("Partners", "A community advisory board will review the survey."),
        ("Background", "Costs are rising fast."),
    ]
    first = evidence.passages[0]
    assert FIELDS["Partners"][first.start : first.end].strip().startswith("A community")
    assert first.weight == 0.9
    assert evidence.passages[1] == Passage(
        "Background", 15, len(FIELDS["Background"]), "Costs are rising fast.", 0.1
    )


def test_a_long_sentence_is_cut_around_its_token() -> None:
    """A sentence longer than MAX_PASSAGE characters is quoted around the token."""
    fields = {"Design": "word " * 200 + "steering committee " + "word " * 200 + "."}
    start = fields["Design"].index("steering")
    spans = [TokenSpan(0, "steering", "Design", start, start + 8, 1.0, None)]
    [passage] = strongest_passages(fields, spans, [1.0])
    assert passage.field == "Design"
    assert "steering committee" in passage.text
    assert passage.text.startswith("...")
    assert len(passage.text) <= MAX_PASSAGE + 6
    assert passage.end - passage.start == MAX_PASSAGE


def test_a_field_without_sentence_ends_costs_one_pass() -> None:
    """A 20,000-token field with no sentence end (a pasted table), every token in the one
    sentence, gives its passage in well under a second (it used to rescan per token)."""
    words = ["cell"] * 20_000
    text = " ".join(words)
    spans = [
        TokenSpan(i, "cell", "Table", 5 * i, 5 * i + 4, 1.0 / (i + 1), None)
        for i in range(len(words))
    ]
    started = time.perf_counter()
    passages = strongest_passages({"Table": text}, spans, _weights(spans))
    assert time.perf_counter() - started < 1.0
    assert [p.text for p in passages] == ["..." + text[:MAX_PASSAGE].strip() + "..."]
