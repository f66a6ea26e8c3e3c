"""Review rounds that learn: ordinal agreement, suspect labels, what to review next.

The figures are checked against values worked out by hand in the comments; the commands
run on a real round (the `exported` job's workbook filled in by two or three reviewers and
imported through `cenr review import`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import create_engine, text

from cenr.cli import main
from tests.exporters.conftest import fill_in
from worker.ratings import krippendorff_alpha, weighted_kappa

ANA, BEN = [0, 2, 5, 5], [1, 2, 5, 3]


def test_weighted_kappas_match_hand_computed_values() -> None:
    """Linear and quadratic weighted kappa on the six-level scale, and on the coarse one.

    ana 0 2 5 5 / ben 1 2 5 3. Linear weights |i-j|/5: observed sum 1/5 + 2/5 = 3/5.
    Expected: sum over ana's and ben's margins of r_i c_j |i-j| / (5 * 4): ana's 0 against
    ben's 1 2 5 3 is 1+2+5+3 = 11, ana's 2 is 1+0+3+1 = 5, ana's two 5s 2*(4+3+0+2) = 18;
    34/20. kappa = 1 - (3/5)/(34/20) = 11/17. Quadratic (i-j)^2/25: observed 5/25; expected
    (39 + 11 + 2*29)/100 = 108/100; kappa = 1 - 20/108 = 22/27.
    Coarse (0 / 1-2 / 3-5): ana 0 1 2 2 / ben 1 1 2 2. Linear |i-j|/2: observed 1/2;
    expected (6 + 2 + 4)/8 = 3/2; kappa 2/3. Quadratic: observed 1/4, expected 16/16; 3/4.
    """
    assert weighted_kappa(ANA, BEN, 6, "linear") == pytest.approx(11 / 17)
    assert weighted_kappa(ANA, BEN, 6, "quadratic") == pytest.approx(22 / 27)
    assert weighted_kappa([0, 1, 2, 2], [1, 1, 2, 2], 3, "linear") == pytest.approx(2 / 3)
    assert weighted_kappa([0, 1, 2, 2], [1, 1, 2, 2], 3, "quadratic") == pytest.approx(3 / 4)
    # a 4 against a 5 costs less than a 0 against a 5
    near = weighted_kappa([4, 1, 3], [5, 1, 3], 6, "linear")
    far = weighted_kappa([0, 1, 3], [5, 1, 3], 6, "linear")
    assert near is not None
    assert far is not None
    assert near > far
    assert weighted_kappa([3, 3], [3, 3], 6, "linear") is None  # one level: 0/0
    assert weighted_kappa([], [], 6, "linear") is None
    with pytest.raises(ValueError, match="weights must be one of"):
        weighted_kappa(ANA, BEN, 6, "cubic")


def test_krippendorff_alpha_matches_a_hand_computed_value() -> None:
    """Ordinal alpha of the same ratings, by Krippendorff's coincidence matrix.

    Pairable values n = 8; counts n_0=1 n_1=1 n_2=2 n_3=1 n_5=3. Coincidences off the
    diagonal: (0,1) and (5,3), each both ways. Ordinal distance
    d(c,k) = (n_c + ... + n_k - (n_c + n_k)/2)^2: d(0,1) = 1, d(3,5) = (4 - 2)^2 = 4.
    D_o = (1 + 1 + 4 + 4)/8 = 10/8. D_e = 2 * sum_{c<k} n_c n_k d(c,k) / (8 * 7)
    = 2 * (1 + 12.5 + 16 + 108 + 4.5 + 9 + 75 + 4.5 + 73.5 + 12) / 56 = 632/56.
    alpha = 1 - (10/8)/(632/56) = 281/316.
    """
    units = [[a, b] for a, b in zip(ANA, BEN, strict=True)]
    assert krippendorff_alpha(units, 6) == pytest.approx(281 / 316)
    # a third rater's gaps are allowed; units rated once drop out
    assert krippendorff_alpha([[*u, None] for u in units] + [[None, None, 4]], 6) == (
        pytest.approx(281 / 316)
    )
    assert krippendorff_alpha([[3, None], [2, None]], 6) is None  # nothing pairable
    assert krippendorff_alpha([[3, 3], [3, 3]], 6) is None  # one level throughout


def _review_round(exported: Path, tmp_path: Path, reviewers: dict[str, list[object]]) -> list[int]:
    """Each reviewer's levels for the workbook's first rows (None: not rated), imported."""
    rows = list(load_workbook(exported)["Review"].iter_rows(min_row=2, values_only=True))
    ids = [r[0] for r in rows]
    for name, levels in reviewers.items():
        decisions = {i: (v, "", name) for i, v in zip(ids, levels, strict=False) if v is not None}
        fill_in(exported, tmp_path / f"{name}.xlsx", decisions)
        assert main(["review", "import", str(tmp_path / f"{name}.xlsx")]) == 0
    return ids


def test_review_agreement_reports_ordinal_figures_of_a_three_reviewer_round(
    exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`cenr review agreement --json` gives weighted kappas per pair, both weightings and the
    coarse view, and Krippendorff's alpha over all three reviewers; carol rated one protocol,
    so her pairs have n=1; the words say the same, and the Discussion workbook has them."""
    _review_round(
        exported, tmp_path,
        {"ana": ["0", "2", "5", "5"], "ben": ["1", "2", "5", "3"], "carol": ["0"]},
    )  # fmt: skip
    capsys.readouterr()
    assert main(["review", "agreement", "--json"]) == 0
    out = capsys.readouterr().out
    report = json.loads(out.strip().splitlines()[-1])
    pairs = {tuple(p["reviewers"]): p for p in report["weighted_kappa"]}
    assert pairs["ana", "ben"]["linear"] == pytest.approx(11 / 17)
    assert pairs["ana", "ben"]["quadratic"] == pytest.approx(22 / 27)
    assert pairs["ana", "ben"]["coarse"] == {
        "linear": pytest.approx(2 / 3), "quadratic": pytest.approx(3 / 4)
    }  # fmt: skip
    assert pairs["ana", "carol"]["n"] == 1
    assert pairs["ana", "carol"]["linear"] is None
    assert "every rating is the same level" in pairs["ana", "carol"]["why_undefined"]
    # ben's 1 against carol's 0 on one protocol: observed = expected, kappa 0
    assert pairs["ben", "carol"]["linear"] == pytest.approx(0.0)
    # carol's 0 joins unit 1 (0, 1, 0): recomputed by the package's hand-checked formula
    units = [[0, 1, 0], [2, 2, None], [5, 5, None], [5, 3, None]]
    alpha = report["krippendorff_alpha"]
    assert alpha["ordinal"] == pytest.approx(krippendorff_alpha(units, 6))
    assert alpha["units"] == 4
    assert alpha["why_undefined"] is None
    assert alpha["coarse"] is not None
    assert "weighted kappa ana / ben: linear 0.647, quadratic 0.815; coarse " in out
    assert "Krippendorff's alpha (ordinal), all reviewers: " in out
    book = load_workbook(report["discussion"])
    lines = [row[0] for row in book["Agreement"].iter_rows(min_row=2, values_only=True)]
    assert any(line.startswith("weighted kappa ana / ben: linear 0.647") for line in lines)


def test_agreement_bad_rounds_each_say_so_in_one_line(
    exported: Path, sqlite_service: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No reviews: exit 1 and one line. One reviewer: the figures that need two say why, the
    model/reviewer figures still come (exit 0). A stored level the codebook lacks: exit 1,
    one line naming it."""
    assert main(["review", "agreement"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "has no reviews yet" in err

    ids = _review_round(exported, tmp_path, {"ana": ["0", "2", "5"]})
    capsys.readouterr()
    assert main(["review", "agreement", "--json"]) == 0
    out = capsys.readouterr().out
    report = json.loads(out.strip().splitlines()[-1])
    assert report["krippendorff_alpha"]["ordinal"] is None
    assert "one reviewer" in report["krippendorff_alpha"]["why_undefined"]
    assert "Krippendorff's alpha (ordinal): undefined: one reviewer" in out
    assert report["weighted_kappa"] == []

    engine = create_engine(sqlite_service)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE reviews SET level_code = '9' WHERE job_item_id = :item"), {"item": ids[1]}
        )
    engine.dispose()
    assert main(["review", "agreement"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"ana's level '9' for row {ids[1]} is not a level of codebook" in err
