"""A research protocol as the pipeline sees it: an ID and named text fields.

IRB exports carry one protocol per row and one column per field (title, aims,
background, design, partners, ...). Keeping the fields apart lets every token remember
which field it came from, so weights can be painted back onto the original text.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Protocol:
    """One protocol: ``fields`` maps field name to its original text, in display order."""

    protocol_id: str
    fields: Mapping[str, str]
    label: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """All fields joined, headed by their names (for display and quick looks)."""
        return "\n\n".join(f"{name}: {value}" for name, value in self.fields.items() if value)

    def content_hash(self) -> str:
        """SHA-256 of the fields, stable across runs (dedupes the same content)."""
        payload = json.dumps(list(self.fields.items()), ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()
