"""Tokenizer: spans map back to the original text; rules and vocabulary are stable."""

from __future__ import annotations

from classifier.tokenizer import (
    NUMBER,
    UNKNOWN_ID,
    TextRules,
    Vocabulary,
    tokenize,
    tokenize_within,
)
from schema.protocol import Protocol

PROTOCOL = Protocol(
    "HM1",
    {
        "title": "CBPR with the Tenant Union",
        "partners": "A co-investigator's  role:\nshared decision-making in 2025 — café",
    },
)


def test_every_token_span_maps_back_to_its_field_text() -> None:
    """fields[t.field][t.start:t.end] is exactly the token's surface text."""
    tokens = tokenize(PROTOCOL, TextRules())
    assert tokens
    for token in tokens:
        assert PROTOCOL.fields[token.field][token.start : token.end] == token.surface


def test_tokens_keep_their_field_and_order() -> None:
    """Tokens come field by field, each naming its field."""
    tokens = tokenize(PROTOCOL, TextRules())
    assert [t.field for t in tokens[:5]] == ["title"] * 5
    assert tokens[5].field == "partners"
    surfaces = [t.surface for t in tokens]
    assert "co-investigator's" in surfaces
    assert "decision-making" in surfaces
    assert "café" in surfaces


def test_rules_lowercase_and_fold_numbers() -> None:
    """Forms follow the saved rules; surfaces stay as written."""
    forms = {t.surface: t.form for t in tokenize(PROTOCOL, TextRules())}
    assert forms["CBPR"] == "cbpr"
    assert forms["2025"] == NUMBER
    cased = {t.surface: t.form for t in tokenize(PROTOCOL, TextRules(lowercase=False))}
    assert cased["CBPR"] == "CBPR"


def test_vocabulary_is_deterministic_and_round_trips() -> None:
    """The same tokens give the same ids, and to_dict/from_dict preserves them."""
    rules = TextRules(min_count=1)
    tokens = tokenize(PROTOCOL, rules)
    first, second = Vocabulary.build([tokens], rules), Vocabulary.build([tokens], rules)
    assert first.forms == second.forms
    restored = Vocabulary.from_dict(first.to_dict())
    assert restored.rules == rules
    assert restored.encode(tokens).tolist() == first.encode(tokens).tolist()


def test_unseen_words_map_to_unknown() -> None:
    """Forms below min_count or never seen encode as the unknown id."""
    rules = TextRules(min_count=2)
    vocabulary = Vocabulary.build([tokenize(PROTOCOL, rules)], rules)
    ids = vocabulary.encode(tokenize(Protocol("x", {"t": "zebra"}), rules))
    assert ids.tolist() == [UNKNOWN_ID]


def test_a_long_document_is_cut_without_building_every_token() -> None:
    """A huge document gives only its first tokens, the same as tokenizing that prefix, plus a count
    of the tokens left over."""
    protocol = Protocol("huge", {"title": "Partners co-lead", "body": "word " * 2_000_000})
    kept, more = tokenize_within(protocol, TextRules(), 8192)
    assert len(kept) == 8192
    assert more == 2_000_002 - 8192
    assert kept == tokenize(Protocol("p", {"title": "Partners co-lead", "body": "word " * 8190}),
                            TextRules())  # fmt: skip
