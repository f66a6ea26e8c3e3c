"""Where the weight sits: shares by field and the sentences around the strongest tokens."""

from __future__ import annotations

from exporters.evidence import (
    MAX_PASSAGE,
    describe_weight_by_field,
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


def test_shares_by_field_are_largest_first_and_small_ones_are_left_out() -> None:
    """Hand-computed: Partners 0.9 of 1.0, Background 0.095, a 0.005 field dropped."""
    spans = [
        _span("Partners", "advisory", 0.6),
        _span("Partners", "board", 0.3),
        _span("Background", "Costs", 0.095),
        _span("Background", "Rates", 0.005),
    ]
    shares = weight_by_field(spans)
    assert [name for name, _ in shares] == ["Partners", "Background"]
    assert shares[0][1] == 0.9
    assert describe_weight_by_field(spans) == "Partners 90%, Background 10%"
    assert describe_weight_by_field([]) == "no tokens"


def test_passages_are_whole_sentences_strongest_first_without_repeats() -> None:
    """Two strong tokens in one sentence give that sentence once, its wrapped line
    joined; the next passage is the next sentence holding weight."""
    spans = [
        _span("Partners", "advisory", 0.6),
        _span("Partners", "board", 0.3),
        _span("Background", "Costs", 0.1),
    ]
    assert strongest_passages(FIELDS, spans) == [
        ("Partners", "A community advisory board will review the survey."),
        ("Background", "Costs are rising fast."),
    ]


def test_a_long_sentence_is_cut_around_its_token() -> None:
    """A sentence longer than MAX_PASSAGE characters is quoted around the token."""
    fields = {"Design": "word " * 200 + "steering committee " + "word " * 200 + "."}
    start = fields["Design"].index("steering")
    spans = [TokenSpan(0, "steering", "Design", start, start + 8, 1.0, None)]
    [(name, text)] = strongest_passages(fields, spans)
    assert name == "Design"
    assert "steering committee" in text
    assert text.startswith("...")
    assert len(text) <= MAX_PASSAGE + 6


def test_a_field_without_sentence_ends_costs_one_pass() -> None:
    """A 20,000-token field with no sentence end (a pasted table), every token in the one
    sentence, gives its passage in well under a second (it used to rescan per token)."""
    import time

    words = ["cell"] * 20_000
    text = " ".join(words)
    spans = [
        TokenSpan(i, "cell", "Table", 5 * i, 5 * i + 4, 1.0 / (i + 1), None)
        for i in range(len(words))
    ]
    started = time.perf_counter()
    passages = strongest_passages({"Table": text}, spans)
    assert time.perf_counter() - started < 1.0
    assert passages == [("Table", "..." + text[:MAX_PASSAGE].strip() + "...")]
