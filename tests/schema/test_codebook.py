"""The codebook: six CEnR levels by default, replaceable by a user file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schema.codebook import default_codebook, load_codebook
from schema.errors import CodebookError


def test_default_codebook_has_six_levels_and_the_coarse_view() -> None:
    """Levels 0-5 in order; 0 -> not CEnR, 1-2 -> limited, 3-5 -> engaged."""
    codebook = default_codebook()
    assert codebook.codes == ["0", "1", "2", "3", "4", "5"]
    assert codebook.levels[5].name == "Collaborate / shared governance"
    assert [codebook.coarse_index(i) for i in range(6)] == [0, 1, 1, 2, 2, 2]


@pytest.mark.parametrize("label", [3, "3", 3.0, " 3 ", "3.0"])
def test_labels_as_spreadsheets_write_them_are_recognised(label: object) -> None:
    """3, '3', 3.0 and '3.0' all mean level 3."""
    assert default_codebook().index_of(label) == 3


def test_label_outside_codebook_is_named() -> None:
    """An unknown label raises CodebookError listing the valid levels."""
    with pytest.raises(CodebookError, match=r"label '7' is not a level.*0, 1, 2, 3, 4, 5"):
        default_codebook().index_of("7")


def test_a_user_codebook_replaces_the_default(tmp_path: Path) -> None:
    """Names and number of levels come from the file."""
    path = tmp_path / "cb.json"
    path.write_text(json.dumps({"name": "three", "levels": [
        {"code": "none", "name": "None"}, {"code": "some", "name": "Some"},
        {"code": "full", "name": "Full"}]}))  # fmt: skip
    codebook = load_codebook(path)
    assert codebook.codes == ["none", "some", "full"]
    assert codebook.index_of("full") == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "cannot read codebook"),
        ('{"levels": [{"code": "a", "name": "A"}]}', "at least two levels"),
        ('{"levels": [{"code": "a"}, {"code": "b"}]}', "malformed codebook"),
        ('{"levels": [{"code": "a", "name": "A"}, {"code": "a", "name": "B"}]}', "unique"),
        (
            '{"levels": [{"code": "a", "name": "A"}, {"code": "b", "name": "B"}], '
            '"coarse": {"levels": [{"code": "x", "name": "X", "members": ["a"]}]}}',
            "coarse view must cover every level",
        ),
    ],
)
def test_malformed_codebook_files_are_refused(tmp_path: Path, content: str, message: str) -> None:
    """A broken codebook file names the file and the problem."""
    path = tmp_path / "cb.json"
    path.write_text(content)
    with pytest.raises(CodebookError, match=message):
        load_codebook(path)


def test_missing_codebook_file_is_named(tmp_path: Path) -> None:
    """A codebook path that does not exist says so."""
    with pytest.raises(CodebookError, match="not found"):
        load_codebook(tmp_path / "nope.json")
