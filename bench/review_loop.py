"""The review loop end to end: does retraining on reviewers' levels beat the model they
corrected, on the same held-out protocols?

    .venv/bin/python bench/review_loop.py [--base 60] [--epochs 30]

With the real ``cenr`` commands in a scratch CENR_HOME (SQLite, no servers): train a
*base* model on the first ``--base`` demo protocols, classify the rest as a job, let a
simulated reviewer (the demo labels) fill in the exported review workbook, import it,
then ``cenr train --from-reviews JOB`` with the base data added, and print the
before/after table that command prints (both models scored on the same held-out
reviewed protocols). The demo protocols are illustrative, not real IRB protocols.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from openpyxl import load_workbook

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo" / "protocols.csv"
COLUMNS = ["--text-column", "StudyTitle", "--text-column", "AimsGoals", "--text-column",
           "Background", "--text-column", "StudyDesign", "--text-column", "Partners",
           "--label-column", "Level", "--id-column", "Protocol ID"]  # fmt: skip
CENR = str(Path(sys.executable).parent / "cenr")


def cenr(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run([CENR, *args], env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"cenr {' '.join(args)} failed:\n{result.stderr[-2000:]}")
    return result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", type=int, default=60, help="demo protocols the base model sees")
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp())
    env = {**os.environ, "CENR_HOME": str(home)}
    env.pop("CENR_DATABASE_URL", None)
    env.pop("CENR_BROKER_URL", None)
    with DEMO.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    truth = {row["Protocol ID"]: row["Level"] for row in rows}

    def write(path: Path, part: list[dict[str, str]], labelled: bool) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as handle:
            names = [k for k in part[0] if labelled or k != "Level"]
            writer = csv.DictWriter(handle, fieldnames=names, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(part)
        return path

    base = write(home / "base.csv", rows[: args.base], labelled=True)
    write(home / "inbox" / "export.csv", rows[args.base :], labelled=False)
    epochs = ["--epochs", str(args.epochs)]
    cenr("train", str(base), *COLUMNS, *epochs, "--test-size", "0.2", "--name", "base", env=env)
    cenr("run", str(home / "inbox"), "--out", str(home / "out"), "--model", "base", env=env)
    job = json.loads(cenr("status", "--json", env=env).strip().splitlines()[-1])["job"]

    workbook = home / "out" / "review.xlsx"
    book = load_workbook(workbook)
    sheet = book["Review"]
    header = [c.value for c in sheet[1]]
    level_at, name_at = header.index("Reviewer level") + 1, header.index("Reviewer") + 1
    for number in range(2, sheet.max_row + 1):
        sheet.cell(number, level_at).value = truth[str(sheet.cell(number, 2).value)]
        sheet.cell(number, name_at).value = "simulated reviewer"
    book.save(home / "reviewed.xlsx")
    print(cenr("review", "import", str(home / "reviewed.xlsx"), env=env).splitlines()[0])
    out = cenr("train", str(base), *COLUMNS, "--from-reviews", job, *epochs, "--test-size",
               "0.3", "--name", "retrained", "--json", env=env)  # fmt: skip
    report = json.loads(out.strip().splitlines()[-1])
    start = out.index("before and after")
    print(out[start:].split("\n{")[0].strip())
    before, after = report["comparison"]["models"]
    print(
        f"macro-F1 ratio new / before: {after['macro_f1'] / max(before['macro_f1'], 1e-9):.2f} "
        f"(base trained on {args.base}, new on {report['training']['n_train']} protocols)"
    )


if __name__ == "__main__":
    main()
