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
from schema.codebook import default_codebook
from tests.exporters.conftest import fill_in
from worker.review.ratings import krippendorff_alpha, weighted_kappa

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


@pytest.fixture
def round_job(
    sqlite_service: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[Path, dict[str, str]]:
    """A job of 96 test-corpus protocols, its review workbook, and each protocol's true
    level by Protocol ID (the corpus's Level column)."""
    import csv

    from tests.conftest import PROTOCOLS_CSV, demo_rows, write_export

    with PROTOCOLS_CSV.open(encoding="utf-8") as handle:
        truth = {row["Protocol ID"]: row["Level"] for row in list(csv.DictReader(handle))[:96]}
    write_export(tmp_path / "inbox" / "round.csv", demo_rows(96))
    assert main(["run", str(tmp_path / "inbox"), "--out", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    return tmp_path / "out" / "review.xlsx", truth


PLANTED = {0: "0", 1: "5"}  # the first two reviewed rows (by workbook order): a far level


def _fill_round(workbook: Path, truth: dict[str, str], tmp_path: Path) -> dict[str, object]:
    """ana and ben review the workbook's first 90 rows with the true levels, except the two
    PLANTED rows (both give a far-off level) and one row where ben is one level higher;
    the last 6 rows stay unreviewed. Returns what was planted, by row ID."""
    rows = list(load_workbook(workbook)["Review"].iter_rows(min_row=2, values_only=True))
    reviewed, planted = rows[:90], {}
    ana, ben = {}, {}
    for number, row in enumerate(reviewed):
        level = truth[row[1]]
        if number in PLANTED:
            level = "0" if level in "345" else "5"
            planted[row[0]] = level
        ana[row[0]] = (level, "", "ana")
        ben[row[0]] = (level, "", "ben")
    nudged = reviewed[2][0]
    ben[nudged] = (str(min(5, int(ana[nudged][0]) + 1)), "", "ben")
    for name, decisions in (("ana", ana), ("ben", ben)):
        fill_in(workbook, tmp_path / f"{name}.xlsx", decisions)
        assert main(["review", "import", str(tmp_path / f"{name}.xlsx")]) == 0
    return {"planted": planted, "nudged": nudged, "unreviewed": [r[0] for r in rows[90:]]}


@pytest.mark.slow
def test_review_issues_finds_planted_labels_out_of_sample(
    round_job: tuple[Path, dict[str, str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two reviewers on 90 protocols, two labels planted wrong by both: `cenr review issues`
    cross-validates (3 folds, models that never saw the protocols they score) and ranks the
    planted labels among the more suspect. Each score is checked by hand against the out-of-sample
    probabilities it comes from; the run is stored and written as a workbook."""
    workbook, truth = round_job
    round_ = _fill_round(workbook, truth, tmp_path)
    capsys.readouterr()
    target = tmp_path / "issues.xlsx"
    args = ["review", "issues", "--folds", "3", "--epochs", "30", "--xlsx", str(target), "--json"]
    assert main(args) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out.strip().splitlines()[-1])
    assert "fold 1/3: training on" in captured.err
    assert report["folds"] == 3
    labels = report["labels"]
    left_out = sum(int(note.split()[0]) for note in report["notes"] if "not checked" in note)
    assert len(labels) + left_out == 90  # a level with fewer than 3 is named, not checked
    assert len(labels) >= 80
    codes = report["codes"]
    for label in labels:  # self-confidence is the out-of-sample probability of the label
        assert label["self_confidence"] == pytest.approx(
            label["probabilities"][codes.index(label["level_code"])], abs=1e-5
        )
        assert label["suspect_score"] == pytest.approx(1 - label["quality"], abs=1e-5)
        assert label["probabilities"] == pytest.approx(
            [p / sum(label["probabilities"]) for p in label["probabilities"]], abs=1e-4
        )
    scores = [label["suspect_score"] for label in labels]
    assert scores == sorted(scores, reverse=True), "most suspect first"
    # out of sample, on 60 training protocols a fold: both planted labels in the more
    # suspect half, one of them in the top five (seeded: the same run gives the same ranks)
    ranks = [n for n, label in enumerate(labels) if label["item_id"] in round_["planted"]]
    assert len(ranks) == 2
    assert max(ranks) < len(labels) / 2, ranks
    assert min(ranks) < 5, ranks
    planted = next(label for label in labels if label["item_id"] in round_["planted"])
    assert planted["basis"] == "unanimous"
    assert "a model trained without it puts" in planted["reason"]
    nudged = next(label for label in labels if label["item_id"] == round_["nudged"])
    assert nudged["basis"] == "disputed"
    assert nudged["reason"].startswith("reviewers split (ana ")
    assert {r["reviewer"] for r in report["reviewers"]} == {"ana", "ben"}
    assert all(0 <= r["quality"] <= 1 for r in report["reviewers"])
    assert "SUSPECT" in captured.out or "ok " in captured.out
    book = load_workbook(target)
    assert book.sheetnames == ["Suspect labels", "Reviewers", "Notes"]
    assert book["Suspect labels"].max_row == len(labels) + 1

    # what to review next: the unreviewed by their model uncertainty, the reviewed by the
    # larger of their disagreement and suspect score (worked out here from the figures)
    review = list(load_workbook(workbook)["Review"].iter_rows(min_row=1, values_only=True))
    header, rows = list(review[0]), review[1:]
    choices = default_codebook().choices  # "Chance of 4 Consult": each level's probability
    assert [c.split()[0] for c in choices] == codes
    p_columns = [header.index(f"Chance of {choice}") for choice in choices]
    suspect = {label["item_id"]: label["suspect_score"] for label in labels}
    expected = {}
    for row in rows:
        probs = sorted((row[i] for i in p_columns), reverse=True)
        if row[0] in round_["unreviewed"]:
            expected[row[0]] = 1 - (probs[0] - probs[1])
        else:
            spread = 0.2 if row[0] == round_["nudged"] else 0.0  # one level of five
            expected[row[0]] = max(spread, suspect.get(row[0], 0.0))
    chosen = tmp_path / "next.xlsx"
    assert main(["review", "next", "--n", "8", "--xlsx", str(chosen)]) == 0
    assert f"{chosen}: 8 protocol(s), highest priority first" in capsys.readouterr().out
    picked = [r[0] for r in load_workbook(chosen)["Review"].iter_rows(min_row=2, values_only=True)]
    best = sorted(expected.values(), reverse=True)
    assert [expected[i] for i in picked] == pytest.approx(best[:8], abs=2e-4)
    # the same workbook imports back the same way
    fill_in(chosen, tmp_path / "carol.xlsx", {picked[0]: ("3", "second look", "carol")})
    assert main(["review", "import", str(tmp_path / "carol.xlsx")]) == 0


def test_review_issues_and_next_refuse_bad_rounds_in_one_line(
    exported: Path, sqlite_service: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No reviews: exit 1, one line, for both commands' checks. Too few reviewed protocols
    to cross-validate: one line naming why. Bad options, and a stored level the codebook
    does not have: one line each."""
    assert main(["review", "issues"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "have no reviews yet" in err
    _review_round(exported, tmp_path, {"ana": ["0", "2", "5", "5"]})
    capsys.readouterr()
    assert main(["review", "issues", "--epochs", "1"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "fewer than two levels with at least 3 each" in err
    assert main(["review", "issues", "--folds", "1"]) == 1
    assert "--folds must be at least 2" in capsys.readouterr().err
    assert main(["review", "next", "--n", "0", "--xlsx", str(tmp_path / "n.xlsx")]) == 1
    assert "--n must be at least 1" in capsys.readouterr().err
    assert main(["review", "next", "--n", "3", "--xlsx", str(tmp_path / "n.xlsx")]) == 0
    capsys.readouterr()
    assert len(list(load_workbook(tmp_path / "n.xlsx")["Review"].iter_rows(min_row=2))) == 3
    engine = create_engine(sqlite_service)
    with engine.begin() as connection:
        connection.execute(text("UPDATE reviews SET level_code = '7'"))
    engine.dispose()
    assert main(["review", "issues"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "ana's level '7' for row" in err
    assert "is not a level of codebook" in err


def test_label_scores_match_hand_computed_values() -> None:
    """Eighteen protocols, the model 0.9 on each true level and 0.02 on the others (rows sum
    to 1): the label both reviewers planted wrong has self-confidence 0.02, is flagged by
    confident learning and has the lowest consensus quality; the others 0.9. With one
    reviewer the quality is the self-confidence and reviewer quality is undefined."""
    import numpy as np

    from schema.codebook import default_codebook
    from worker.review.label_quality import Rated, score_labels

    probabilities, rounds = [], []
    for i in range(18):
        p = np.full(6, 0.02)
        p[i % 6] = 0.9
        probabilities.append(p)
        level = 0 if i == 4 else i % 6
        rounds.append(Rated({"ana": level, "ben": level}, level, "unanimous"))
    scored, reviewers, notes = score_labels(rounds, np.array(probabilities), default_codebook())
    assert [s.self_confidence for s in scored] == pytest.approx(
        [0.02 if i == 4 else 0.9 for i in range(18)]
    )
    assert [s.flagged for s in scored] == [i == 4 for i in range(18)]
    assert min(range(18), key=lambda i: scored[i].quality) == 4
    assert scored[4].reason == (
        "unanimous 0 (2 reviewers); a model trained without it puts 0.90 on 4 and 0.02 on 0"
    )
    assert [r.reviewer for r in reviewers] == ["ana", "ben"]
    assert notes == []

    alone = [Rated({"ana": r.agreed or 0}, r.agreed, "unanimous") for r in rounds]
    scored, reviewers, _ = score_labels(alone, np.array(probabilities), default_codebook())
    assert [s.quality for s in scored] == [s.self_confidence for s in scored]
    assert reviewers[0].quality is None
    assert "one reviewer" in reviewers[0].note
