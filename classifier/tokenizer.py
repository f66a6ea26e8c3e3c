"""Tokens that remember where they came from, and the vocabulary that numbers them.

Every token keeps its field and its character span in that field's original text, so a
weight computed for token *i* can be painted back onto exactly the characters it covers:
``protocol.fields[t.field][t.start:t.end] == t.surface`` always holds, and
``t.form == rules.form(t.surface)``. The text rules (lower-casing, digits) live only in
:class:`TextRules` and are saved with the model, so training and prediction can never
normalise differently.

A word is a run of letters and digits (``\\w``) that keeps its combining marks (Hindi
vowel signs, Hebrew and Arabic vowel points, a decomposed "é") and invisible format
characters such as a zero-width joiner or soft hyphen, as Unicode's word boundaries
(UAX #29) do; a zero-width *space* separates words. The form drops the invisible
characters and is NFC-normalised, so "cafe\\u0301" and "café" are one word.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from schema.protocol import Protocol

PAD_ID = 0
UNKNOWN_ID = 1
PAD, UNKNOWN, NUMBER = "<pad>", "<unk>", "<num>"


# Combining marks and format characters are all in planes 0, 1 and 14 (checked by a test):
# scanning only those keeps importing this module fast.
SCANNED_PLANES = (0, 1, 14)


def _character_class(wanted: Callable[[str], bool]) -> str:
    """The code points for which ``wanted`` holds, as the inside of a regex class."""
    ranges: list[list[int]] = []
    for code in (p * 0x10000 + c for p in SCANNED_PLANES for c in range(0x10000)):
        if wanted(chr(code)):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    return "".join(
        re.escape(chr(a)) + (f"-{re.escape(chr(b))}" if b > a else "") for a, b in ranges
    )


# Invisible format characters (Cf: joiners, soft hyphen, bidi marks), but not U+200B ZWSP.
_INVISIBLE = _character_class(lambda c: c != "\u200b" and unicodedata.category(c) == "Cf")
_MARKS = _character_class(lambda c: unicodedata.category(c).startswith("M"))
_WORD_PART = rf"\w[\w{_MARKS}{_INVISIBLE}]*"
# Words, keeping internal apostrophes and hyphens ("co-investigator", "community's").
WORD = re.compile(rf"{_WORD_PART}(?:['\u2019\-]{_WORD_PART})*")
_INVISIBLE_RE = re.compile(f"[{_INVISIBLE}]")


def has_words(text: str) -> bool:
    """Whether :func:`tokenize` would find at least one token in ``text``."""
    return WORD.search(text) is not None


@dataclass(frozen=True)
class Token:
    """One word of a protocol: its surface text, normalised form, field and span."""

    surface: str
    form: str
    field: str
    start: int
    end: int


@dataclass(frozen=True)
class TextRules:
    """How surface words become vocabulary forms; saved with each model."""

    lowercase: bool = True
    digits_as_number: bool = True
    min_count: int = 2
    max_size: int = 30_000

    def form(self, surface: str) -> str:
        if not surface.isascii():
            surface = unicodedata.normalize("NFC", _INVISIBLE_RE.sub("", surface))
        if self.digits_as_number and surface.replace("-", "").isdigit():
            return NUMBER
        return surface.lower() if self.lowercase else surface


def tokenize(protocol: Protocol, rules: TextRules) -> list[Token]:
    """All word tokens of ``protocol``, field by field in field order."""
    return tokenize_within(protocol, rules, sys.maxsize)[0]


def tokenize_within(protocol: Protocol, rules: TextRules, limit: int) -> tuple[list[Token], int]:
    """The first ``limit`` tokens of ``protocol`` and how many more it has (counted, not
    built: a 10 MB field costs no million token objects)."""
    tokens: list[Token] = []
    more = 0
    for field_name, text in protocol.fields.items():
        for match in WORD.finditer(text or ""):
            if len(tokens) >= limit:
                more += 1
                continue
            surface = match.group()
            tokens.append(
                Token(surface, rules.form(surface), field_name, match.start(), match.end())
            )
    return tokens, more


class Vocabulary:
    """Maps token forms to ids: 0 is padding, 1 unknown, then by frequency."""

    def __init__(self, forms: Sequence[str], rules: TextRules) -> None:
        self.rules = rules
        self.forms = list(forms)
        self._ids = {form: index for index, form in enumerate(self.forms)}

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[Token]], rules: TextRules) -> Vocabulary:
        counts: Counter[str] = Counter()
        for tokens in token_lists:
            counts.update(token.form for token in tokens)
        # Ties broken alphabetically so the same data always gives the same ids.
        ranked = sorted(
            (form for form, n in counts.items() if n >= rules.min_count),
            key=lambda form: (-counts[form], form),
        )
        return cls([PAD, UNKNOWN, *ranked[: rules.max_size - 2]], rules)

    def __len__(self) -> int:
        return len(self.forms)

    def encode(self, tokens: Sequence[Token]) -> np.ndarray:
        """Token ids, shape ``(len(tokens),)``, int32."""
        return np.fromiter(
            (self._ids.get(token.form, UNKNOWN_ID) for token in tokens),
            dtype=np.int32,
            count=len(tokens),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"rules": asdict(self.rules), "forms": self.forms}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Vocabulary:
        return cls(data["forms"], TextRules(**data["rules"]))
