"""Property-based tests: the tokenizer's span contract on any text, and extractors that
end every input, random or a damaged copy of a valid file, as text or a project error."""

from __future__ import annotations

import io
import re
import sys
import unicodedata
import zipfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classifier.tokenizer import SCANNED_PLANES, TextRules, has_words, tokenize
from schema.errors import CenrError
from schema.protocol import Protocol
from tests.hostile.corpus import ARABIC, EMOJI, HEBREW, WORDS, ZERO_WIDTH
from tests.worker.files import docx_bytes, pdf_bytes, xlsx_bytes
from worker.extract.source import SUPPORTED_SUFFIXES, Limits, extract_source

# No example database: nothing is written into the work tree, every run starts afresh.
FAST = settings(max_examples=150, deadline=2000, database=None)
EXTRACT = settings(
    max_examples=40, deadline=3000, database=None, suppress_health_check=[HealthCheck.too_slow]
)
LIMITS = Limits(max_file_bytes=2**20, max_unzipped_bytes=4 * 2**20, max_rows=200)

# Text that leans on the hard cases: marks, joiners, RTL, emoji, NUL, apostrophes, digits.
TRICKY = "".join(
    [WORDS, EMOJI, ZERO_WIDTH, ARABIC, HEBREW, "\x00\u0301\u0930\u093f\u05b8'’-_2²٣ \n\t"]
)
texts = st.text(st.characters(codec="utf-8") | st.sampled_from(TRICKY), max_size=200)


@FAST
@given(st.dictionaries(st.text(max_size=5), texts, max_size=3), st.booleans())
def test_token_spans_map_back_to_the_text_in_order(fields: dict[str, str], lowercase: bool) -> None:
    """For any text, each token's span gives back its surface in its field, in order without
    overlap, and a text has words exactly when it gives tokens."""
    rules = TextRules(lowercase=lowercase)
    tokens = tokenize(Protocol("p", fields), rules)
    assert [t.field for t in tokens] == sorted(
        (t.field for t in tokens), key=list(fields).index
    )  # field by field, in field order
    previous_end: dict[str, int] = {}
    for token in tokens:
        text = fields[token.field]
        assert text[token.start : token.end] == token.surface
        assert token.form == rules.form(token.surface)
        assert token.start < token.end
        assert token.start >= previous_end.get(token.field, 0)  # in order, no overlap
        previous_end[token.field] = token.end
        assert not re.match(r"\w", text[token.start - 1 : token.start])  # maximal at left
        assert "\x00" not in token.surface
    for text in fields.values():
        assert has_words(text) == bool(tokenize(Protocol("p", {"f": text}), rules))


@FAST
@given(texts)
def test_a_token_is_never_cut_inside_a_word(text: str) -> None:
    """The character after a token cannot continue it: not a letter, digit or mark."""
    for token in tokenize(Protocol("p", {"f": text}), TextRules()):
        after = text[token.end : token.end + 1]
        assert not re.match(r"\w", after)
        assert not after or not unicodedata.category(after).startswith("M")


def test_words_keep_their_marks_and_joiners() -> None:
    """Words keep their combining marks and soft hyphens, their forms compose the marks and drop the
    hyphen, and a zero-width space splits a word."""
    text = "हिन्दी שָׁלוֹם مُجْتَمَع cafe\u0301 commu\u00adnity co\u200bop"
    tokens = tokenize(Protocol("p", {"f": text}), TextRules())
    assert [t.surface for t in tokens] == [
        "हिन्दी", "שָׁלוֹם", "مُجْتَمَع", "cafe\u0301", "commu\u00adnity", "co", "op",
    ]  # fmt: skip
    assert [t.form for t in tokens][3:5] == ["café", "community"]


def test_marks_and_format_characters_are_only_in_the_scanned_planes() -> None:
    """The tokenizer builds its character classes from these planes alone."""
    planes = {
        code >> 16
        for code in range(sys.maxunicode + 1)
        if unicodedata.category(chr(code))[0] == "M" or unicodedata.category(chr(code)) == "Cf"
    }
    assert planes <= set(SCANNED_PLANES)


def _extracts_or_fails_cleanly(name: str, raw: bytes) -> None:
    """Protocols with words and no NUL, rows that fail by number, or a project error."""
    try:
        found = extract_source(name, raw, LIMITS)
    except CenrError as exc:
        error = str(exc)
    else:
        assert found
        for item in found:
            assert (item.protocol is None) != (item.error is None)
            if item.protocol is not None:
                values = [item.external_id, *item.protocol.fields, *item.protocol.fields.values()]
                assert not any("\x00" in v for v in values)
                assert any(has_words(v) for v in item.protocol.fields.values())
            else:
                assert str(item.error).startswith(f"{name}: row ")
        return
    assert error.startswith(f"{name}: "), error


@EXTRACT
@given(st.sampled_from(SUPPORTED_SUFFIXES), st.binary(max_size=2000))
def test_any_bytes_under_any_extension(suffix: str, raw: bytes) -> None:
    """Random bytes under any supported extension give protocols with words, rows that fail by
    number, or an error naming the file."""
    _extracts_or_fails_cleanly(f"random{suffix}", raw)


@EXTRACT
@given(st.sampled_from([".txt", ".md", ".csv", ".jsonl"]), texts)
def test_any_text_under_a_text_extension(suffix: str, text: str) -> None:
    """Any text under a text extension gives protocols with words, rows that fail by number, or an
    error naming the file."""
    _extracts_or_fails_cleanly(f"text{suffix}", text.encode("utf-8"))


VALID = {
    "valid.docx": docx_bytes(WORDS, ARABIC),
    "valid.xlsx": xlsx_bytes([("Protocol ID", "Abstract"), ("P1", WORDS), ("P2", HEBREW)], True),
    "valid.pdf": pdf_bytes(WORDS, "Partners (CAB)"),
}


@st.composite
def damaged(draw: st.DrawFn, raw: bytes) -> bytes:
    """``raw`` with a few bytes flipped, a slice cut out or the tail truncated."""
    data = bytearray(raw)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "truncate", "insert"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del data[at : at + draw(st.integers(1, 64))]
        elif kind == "truncate":
            del data[at:]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


def _rezipped(raw: bytes, damage: st.DrawFn) -> bytes:
    """The same zip with every member damaged by ``damage``: reaches the XML parsers."""
    source = zipfile.ZipFile(io.BytesIO(raw))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for member in source.namelist():
            content = source.read(member)
            archive.writestr(
                member, damage(damaged(content)) if member.endswith(".xml") else content
            )
    return out.getvalue()


@EXTRACT
@given(st.sampled_from(sorted(VALID)), st.data())
def test_damaged_copies_of_valid_files(name: str, data: st.DataObject) -> None:
    """Damaged copies of valid DOCX, XLSX and PDF files give protocols with words, rows that fail by
    number, or an error naming the file."""
    _extracts_or_fails_cleanly(name, data.draw(damaged(VALID[name])))


@EXTRACT
@given(st.sampled_from(["valid.docx", "valid.xlsx"]), st.data())
def test_valid_zips_with_damaged_xml_inside(name: str, data: st.DataObject) -> None:
    """Valid DOCX and XLSX zips whose XML members are damaged give protocols with words, rows that
    fail by number, or an error naming the file."""
    _extracts_or_fails_cleanly(name, _rezipped(VALID[name], data.draw))
