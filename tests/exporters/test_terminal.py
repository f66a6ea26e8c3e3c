"""Terminal highlighting paints weights onto the original text, safely."""

from __future__ import annotations

import numpy as np

from classifier.tokenizer import TextRules, tokenize
from exporters.terminal import highlight
from schema.protocol import Protocol


def test_strongest_words_are_marked_in_place() -> None:
    """The top-weighted tokens are marked where they stand in the original text."""
    protocol = Protocol("p", {"partners": "A steering committee decides.", "title": "Study"})
    tokens = tokenize(protocol, TextRules())
    weights = np.array([0.05, 0.5, 0.3, 0.1, 0.05])
    text = highlight(protocol.fields, tokens, weights, top=2, colour=False)
    assert text == "partners: A [[steering]] [[committee]] decides.\n\ntitle: Study"


def test_control_characters_in_documents_cannot_drive_the_terminal() -> None:
    """Escape sequences in document text are replaced, not passed to the terminal."""
    protocol = Protocol("p", {"t": "evil \x1b[2J text"})
    tokens = tokenize(protocol, TextRules())
    text = highlight(protocol.fields, tokens, np.ones(len(tokens)) / len(tokens), colour=False)
    assert "\x1b" not in text
