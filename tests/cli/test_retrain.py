"""`cenr train --from-reviews`: a new model version from the reviewers' agreed levels,
compared with the job's model on the same held-out protocols."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from openpyxl import load_workbook

from cenr.cli import main
from tests.conftest import DEMO_COLUMNS, PROTOCOLS_CSV, demo_rows, last_json_line, write_export
from tests.exporters.conftest import fill_in


def _job_with_reviews(tmp_path: Path, capsys: pytest.CaptureFixture[str], n: int) -> str:
    """A job of ``n`` demo protocols, reviewed by 'ana' with their true levels."""
    write_export(tmp_path / "inbox" / "export.csv", demo_rows(n))
    assert main(["run", str(tmp_path / "inbox"), "--out", str(tmp_path / "out")]) == 0
    with PROTOCOLS_CSV.open(encoding="utf-8") as handle:
        truth = {row["Protocol ID"]: row["Level"] for row in csv.DictReader(handle)}
    workbook = tmp_path / "out" / "review.xlsx"
    rows = list(load_workbook(workbook)["Review"].iter_rows(min_row=2, values_only=True))
    decisions = {r[0]: (truth[str(r[1])], "", "ana") for r in rows}
    fill_in(workbook, tmp_path / "ana.xlsx", decisions)  # type: ignore[arg-type]
    assert main(["review", "import", str(tmp_path / "ana.xlsx")]) == 0
    capsys.readouterr()
    assert main(["status", "--json"]) == 0
    return str(last_json_line(capsys.readouterr().out)["job"])


@pytest.mark.slow
def test_retrain_on_reviews_compares_old_and_new_on_the_same_protocols(
    sqlite_service: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Retraining on a job's reviews reports the old and new model on the same held-out protocols,
    with the scores `cenr evaluate` gives, and no reviewed row trains twice."""
    job = _job_with_reviews(tmp_path, capsys, 60)
    args = ["train", str(PROTOCOLS_CSV), *DEMO_COLUMNS, "--from-reviews", job, "--epochs", "3",
            "--test-size", "0.3", "--name", "retrained", "--json"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    report = last_json_line(out)
    comparison = report["comparison"]
    assert comparison["n"] == 18 == report["n"] == report["training"]["n_test"]
    assert [(m["model"], m["role"]) for m in comparison["models"]] == [
        ("tiny", "before"),
        ("retrained", "new"),
    ]
    reviews = report["training"]["reviews"]
    assert (reviews["jobs"], reviews["protocols"], reviews["adjudicated"]) == ([job], 60, 0)
    # the 60 reviewed protocols are also rows of the demo file: none may train twice, and
    # none of the 18 held out may train at all
    assert report["training"]["data_rows_replaced_by_reviews"] == 60
    assert report["training"]["n_train"] == 180 - 60 + 42
    assert "before and after, on the same 18 held-out protocols" in out
    assert main(["models", "--json"]) == 0
    names = [m["name"] for m in last_json_line(capsys.readouterr().out)]
    assert "retrained" in names

    # scores are those of each model on exactly these protocols
    held_out = tmp_path / "held_out.csv"
    ids = set(comparison["protocols"])
    with PROTOCOLS_CSV.open(encoding="utf-8") as handle:
        write_export(held_out, [r for r in csv.DictReader(handle) if r["Protocol ID"] in ids])
    for model in comparison["models"]:
        assert main(["evaluate", str(held_out), "--model", model["model"], *DEMO_COLUMNS,
                     "--json"]) == 0  # fmt: skip
        evaluated = last_json_line(capsys.readouterr().out)
        assert evaluated["n"] == 18
        assert evaluated["accuracy"] == pytest.approx(model["accuracy"])


def test_retrain_needs_reviews_or_data(
    sqlite_service: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`cenr train` fails saying what is missing when a job has no agreed levels, neither data nor
    reviews are given, the data lacks its column options, or the job is unknown."""
    write_export(tmp_path / "inbox" / "export.csv", demo_rows(4))
    assert main(["run", str(tmp_path / "inbox"), "--out", str(tmp_path / "out")]) == 0
    assert main(["status", "--json"]) == 0
    job = last_json_line(capsys.readouterr().out)["job"]
    assert main(["train", "--from-reviews", job]) == 1
    assert "no protocol has an agreed level yet" in capsys.readouterr().err
    assert main(["train"]) == 1
    assert "give labelled protocols (DATA) or --from-reviews JOB" in capsys.readouterr().err
    assert main(["train", str(PROTOCOLS_CSV)]) == 1
    assert "--text-column COL (repeatable) and --label-column COL" in capsys.readouterr().err
    assert main(["train", "--from-reviews", "nope"]) == 1
    assert "no job 'nope'" in capsys.readouterr().err


def test_too_few_reviews_to_hold_out_say_what_to_do(
    sqlite_service: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Retraining on too few reviews to hold some out fails with a message naming the job and
    suggesting `--test DATA2`."""
    job = _job_with_reviews(tmp_path, capsys, 8)
    assert main(["train", "--from-reviews", job, "--name", "x"]) == 1
    err = capsys.readouterr().err
    assert f"reviews of job(s) {job}" in err
    assert "--test DATA2" in err
