"""The codebook: the ordered engagement levels a protocol can be given.

The default is the six CEnR levels with the coarse three-level view used in the
published work (0 -> not CEnR, 1-2 -> limited, 3-5 -> engaged). A user replaces it with a
JSON file of the same shape (``CENR_CODEBOOK``); names, number of levels and definitions
all come from the file, never from code. A trained model saves the codebook it was
trained with, so its class indices always mean the same levels.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from schema.errors import CodebookError


@dataclass(frozen=True)
class Level:
    """One level: its code as written in data files, a short name and a definition."""

    code: str
    name: str
    definition: str = ""
    evidence: str = ""


@dataclass(frozen=True)
class CoarseLevel:
    code: str
    name: str
    members: tuple[str, ...]


@dataclass(frozen=True)
class Codebook:
    """Ordered levels; a level's position is its class index in the model."""

    name: str
    levels: tuple[Level, ...]
    version: str = ""
    coarse: tuple[CoarseLevel, ...] = ()
    # The fields in which the codebook's evidence belongs (CEnR: Partners and Study
    # design); empty for a codebook without fields, such as a set of topics. A prediction
    # above the first level whose weight lies mostly outside them is flagged for a look.
    evidence_fields: tuple[str, ...] = ()
    # Headings for the protocols' fields (``StudyDesign`` -> ``Study design``); a field
    # not named here is headed by :func:`humanise` of its column name.
    field_names: tuple[tuple[str, str], ...] = ()

    @property
    def codes(self) -> list[str]:
        return [level.code for level in self.levels]

    def choice(self, index: int) -> str:
        """A level as the drop-downs offer it and the import reads it: ``4 Consult``."""
        level = self.levels[index]
        return f"{level.code} {level.name}"

    @property
    def choices(self) -> list[str]:
        return [self.choice(index) for index in range(len(self.levels))]

    def field_name(self, field: str) -> str:
        """The heading a reviewer reads for a field (``StudyDesign`` -> ``Study design``)."""
        key = field_key(field)
        for name, display in self.field_names:
            if field_key(name) == key:
                return display
        return humanise(field)

    def is_evidence_field(self, field: str) -> bool:
        """Whether ``field`` is one of :attr:`evidence_fields` (spelling aside:
        ``StudyDesign``, ``Study design`` and ``study_design`` are one field)."""
        return field_key(field) in {field_key(f) for f in self.evidence_fields}

    def index_of(self, label: object) -> int:
        """Class index of a label as written in a data file (``3``, ``"3"``, ``3.0``).

        Raises:
            CodebookError: the label is not a level of this codebook.
        """
        code = normalise_label(label)
        for index, level in enumerate(self.levels):
            if level.code == code:
                return index
        for index, choice in enumerate(self.choices):  # "4 Consult", as the drop-down has it
            if " ".join(str(label).split()).casefold() == choice.casefold():
                return index
        raise CodebookError(
            f"label {label!r} is not a level of the codebook '{self.name}' "
            f"(levels: {', '.join(self.codes)})"
        )

    def coarse_index(self, index: int) -> int:
        """Index in the coarse view of the level at ``index``."""
        code = self.levels[index].code
        for coarse_index, coarse in enumerate(self.coarse):
            if code in coarse.members:
                return coarse_index
        raise CodebookError(f"level {code} is in no coarse level of codebook '{self.name}'")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "levels": [vars(level) for level in self.levels],
            "coarse": {
                "levels": [
                    {"code": c.code, "name": c.name, "members": list(c.members)}
                    for c in self.coarse
                ]
            },
            "evidence_fields": list(self.evidence_fields),
            "field_names": dict(self.field_names),
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "codebook") -> Codebook:
        """Build a codebook from its JSON shape, with errors that name ``source``."""
        try:
            levels = tuple(
                Level(
                    code=normalise_label(item["code"]),
                    name=str(item["name"]),
                    definition=str(item.get("definition", "")),
                    evidence=str(item.get("evidence", "")),
                )
                for item in data["levels"]
            )
            coarse_items: Sequence[Any] = (data.get("coarse") or {}).get("levels", [])
            coarse = tuple(
                CoarseLevel(
                    code=normalise_label(item["code"]),
                    name=str(item["name"]),
                    members=tuple(normalise_label(m) for m in item["members"]),
                )
                for item in coarse_items
            )
            evidence_fields = tuple(str(f) for f in data.get("evidence_fields") or ())
            field_names = tuple(
                (str(k), str(v)) for k, v in (data.get("field_names") or {}).items()
            )
            codebook = cls(
                name=str(data.get("name", "codebook")),
                version=str(data.get("version", "")),
                levels=levels,
                coarse=coarse,
                evidence_fields=evidence_fields,
                field_names=field_names,
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise CodebookError(f"{source}: malformed codebook ({exc!r} missing or wrong)") from exc
        if len(levels) < 2:
            raise CodebookError(f"{source}: a codebook needs at least two levels")
        if len(set(codebook.codes)) != len(levels):
            raise CodebookError(f"{source}: level codes must be unique")
        covered = [m for c in coarse for m in c.members]
        if coarse and sorted(covered) != sorted(codebook.codes):
            raise CodebookError(f"{source}: the coarse view must cover every level exactly once")
        return codebook


def normalise_label(label: object) -> str:
    """The code of a label as read from CSV, XLSX or JSON: ``3``, ``3.0`` and ``"3"`` agree."""
    if isinstance(label, float) and label.is_integer():
        return str(int(label))
    text = str(label).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


def field_key(field: str) -> str:
    """A field's name with case, spaces and punctuation aside: how fields are matched."""
    return re.sub(r"[^0-9a-z]", "", field.casefold())


def humanise(field: str) -> str:
    """A column name as a heading: ``StudyDesign`` -> ``Study design``, ``aims_goals`` ->
    ``Aims goals``; a name with spaces already is kept as it is."""
    if " " in field.strip():
        return field.strip()
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", field.replace("_", " ")).split()
    if not words:
        return field
    return " ".join([words[0][:1].upper() + words[0][1:]] + [w.lower() for w in words[1:]])


def default_codebook() -> Codebook:
    """The six CEnR levels shipped with the project."""
    text = resources.files("schema").joinpath("default_codebook.json").read_text("utf-8")
    return Codebook.from_dict(json.loads(text), source="default codebook")


def load_codebook(path: Path | None) -> Codebook:
    """The codebook in ``path``, or the default when ``path`` is None."""
    if path is None:
        return default_codebook()
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except FileNotFoundError as exc:
        raise CodebookError(f"{path}: codebook file not found") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CodebookError(f"{path}: cannot read codebook: {exc}") from exc
    return Codebook.from_dict(data, source=str(path))


def model_codebook(model_dir: Path) -> Codebook:
    """The codebook a model version was trained with (``codebook.json`` in its folder)."""
    path = Path(model_dir) / "codebook.json"
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CodebookError(f"cannot read the model's codebook {path}: {exc}") from exc
    return Codebook.from_dict(data, source=str(path))
