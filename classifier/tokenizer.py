"""Tokens that remember where they came from, and the vocabulary that numbers them.

Every token keeps its field and its character span in that field's original text, so a
weight computed for token *i* can be painted back onto exactly the characters it covers:
``protocol.fields[t.field][t.start:t.end] == t.surface`` always holds. The text rules
(lower-casing, digits) live only in :class:`TextRules` and are saved with the model, so
training and prediction can never normalise differently.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from schema.protocol import Protocol

PAD_ID = 0
UNKNOWN_ID = 1
PAD, UNKNOWN, NUMBER = "<pad>", "<unk>", "<num>"

# Words, keeping internal apostrophes and hyphens ("co-investigator", "community's").
WORD = re.compile(r"\w+(?:['\u2019\-]\w+)*")


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
        if self.digits_as_number and surface.replace("-", "").isdigit():
            return NUMBER
        return surface.lower() if self.lowercase else surface


def tokenize(protocol: Protocol, rules: TextRules) -> list[Token]:
    """All word tokens of ``protocol``, field by field in field order."""
    tokens: list[Token] = []
    for field_name, text in protocol.fields.items():
        for match in WORD.finditer(text or ""):
            surface = match.group()
            tokens.append(
                Token(surface, rules.form(surface), field_name, match.start(), match.end())
            )
    return tokens


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
