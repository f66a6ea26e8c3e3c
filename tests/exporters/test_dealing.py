"""How a job's protocols are dealt into review workbooks: by size, and to reviewers with a
shared overlap set."""

from __future__ import annotations

import pytest

from exporters.dealing import deal, overlap_positions
from schema.errors import ConfigError


def test_a_job_is_split_by_size_least_certain_first() -> None:
    """Without reviewers the job is cut, in its order, into parts of at most N."""
    shares = deal(list(range(10)), per_workbook=4)
    assert [s.rows for s in shares] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [(s.part, s.parts, s.suffix) for s in shares] == [
        (1, 3, "-1"), (2, 3, "-2"), (3, 3, "-3"),
    ]  # fmt: skip
    [whole] = deal(list(range(10)), per_workbook=10)
    assert (whole.rows, whole.suffix) == (list(range(10)), "")
    [empty] = deal([], per_workbook=5)
    assert empty.rows == []
    assert empty.suffix == ""


def test_reviewers_share_an_even_overlap_and_split_the_rest() -> None:
    """Every reviewer gets the shared set (every k-th protocol) and an equal turn of the rest,
    each in the job's order; every protocol is reviewed, the shared ones by all."""
    rows = list(range(20))
    shares = deal(rows, per_workbook=100, reviewers=["ana", "ben", "cy"], overlap=0.2)
    assert overlap_positions(20, 0.2) == [0, 5, 10, 15]
    by_name = {s.reviewer: s for s in shares}
    assert list(by_name) == ["ana", "ben", "cy"]
    for share in shares:
        assert share.rows == sorted(share.rows), "least certain first"
        assert {0, 5, 10, 15} <= set(share.rows)
        assert share.shared == 4
        assert share.suffix == f"-{share.reviewer}"
    own = [set(s.rows) - {0, 5, 10, 15} for s in shares]
    assert sorted(len(o) for o in own) == [5, 5, 6]  # 16 dealt in turn
    assert set().union(*own) == set(rows) - {0, 5, 10, 15}
    assert not (own[0] & own[1])
    assert not (own[1] & own[2])
    assert not (own[0] & own[2])
    # hard and easy cases alike: the first dealt go to ana, ben, cy in turn
    assert [min(o) for o in own] == [1, 2, 3]


def test_a_reviewers_share_over_the_size_is_split_too() -> None:
    """A reviewer's protocols beyond N go to their second workbook, named for them."""
    shares = deal(list(range(9)), per_workbook=2, reviewers=["ana", "ben"], overlap=0.0)
    assert [(s.reviewer, s.rows, s.suffix) for s in shares] == [
        ("ana", [0, 2], "-ana-1"), ("ana", [4, 6], "-ana-2"), ("ana", [8], "-ana-3"),
        ("ben", [1, 3], "-ben-1"), ("ben", [5, 7], "-ben-2"),
    ]  # fmt: skip


def test_a_small_overlap_is_never_rounded_away() -> None:
    """An overlap asked for gives at least one shared protocol; a whole overlap gives all."""
    assert overlap_positions(3, 0.05) == [0]
    assert overlap_positions(4, 1.0) == [0, 1, 2, 3]
    assert overlap_positions(0, 0.5) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"per_workbook": 0}, "--per-workbook 0: give at least 1"),
        ({"per_workbook": 5, "overlap": 0.2}, "add --reviewers"),
        ({"per_workbook": 5, "reviewers": ["ana"], "overlap": 1.5}, "between 0 and 1"),
        ({"per_workbook": 5, "reviewers": ["ana", "ANA"]}, "names someone twice"),
        ({"per_workbook": 5, "reviewers": ["../evil"]}, "reviewer name '../evil'"),
    ],
)
def test_bad_dealing_options_are_one_line(kwargs: dict, message: str) -> None:
    """Each bad option is refused with a message that names it."""
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        deal(list(range(5)), **kwargs)
