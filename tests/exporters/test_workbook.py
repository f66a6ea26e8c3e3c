"""The review workbook, opened the way a reviewer's spreadsheet program would read it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.cell.rich_text import CellRichText, TextBlock
from sqlalchemy import create_engine, text

from cenr.cli import main
from exporters.scale import FONTS, shade
from exporters.sheets import MAX_CELL
from schema.codebook import default_codebook
from schema.database import open_database, session_scope
from schema.second_look import percent
from tests.exporters.conftest import fill_in
from worker.results import review_data, token_spans


def _colour(font: object) -> str:
    return str(getattr(getattr(font, "color", None), "rgb", "") or "")[-6:]


def _char_colours(value: CellRichText) -> tuple[str, list[str]]:
    """The cell's text and the font colour of every character."""
    chars, colours = [], []
    for run in value:
        if isinstance(run, TextBlock):
            chars.append(run.text)
            colours.extend([_colour(run.font)] * len(run.text))
        else:
            chars.append(run)
            colours.extend([""] * len(run))
    return "".join(chars), colours


def test_review_sheet_shows_what_a_reviewer_needs(exported: Path, sqlite_service: str) -> None:
    """The review sheet lists protocols least certain first, with a hidden job-item ID, the
    columns in the order of the work, a drop-down of the codebook's names, and nothing
    protected but the workbook's structure."""
    book = load_workbook(exported, rich_text=True)
    assert book.sheetnames == [
        "Review",
        "Heatmap",
        "Summary",
        "Codebook",
        "Model",
        "Failed",
        "_cenr",
    ]
    assert book["_cenr"].sheet_state == "hidden"
    review = book["Review"]
    header = [c.value for c in review[1]]
    assert header[:12] == [
        "Row ID", "Protocol ID", "Title", "Model level", "Confidence", "Needs a second look",
        "Reviewer level", "Rationale", "Reviewer", "Evidence by field", "Strongest passages",
        "Heat-map strength",
    ]  # fmt: skip
    assert header[-1] == "Protocol text"
    assert review.column_dimensions["A"].hidden
    assert review.freeze_panes == "D2"
    assert review.auto_filter.ref
    rows = list(review.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 10
    confidences = [r[4] for r in rows]
    assert confidences == sorted(confidences), "least certain first"
    # the evidence by field comes first, as stored with the prediction
    engine = create_engine(sqlite_service)
    with engine.connect() as connection:
        stored = connection.execute(
            text("SELECT ji.id, ef.field, ef.share FROM evidence_fields ef "
                 "JOIN predictions p ON p.id = ef.prediction_id "
                 "JOIN job_items ji ON ji.document_id = p.document_id "
                 "ORDER BY ef.share DESC, ef.field")
        ).all()  # fmt: skip
    engine.dispose()
    codebook = default_codebook()
    for row in rows:
        largest = next((f, s) for item, f, s in stored if item == row[0])
        if largest[1] >= 0.01:
            assert row[9].startswith(f"{codebook.field_name(largest[0])} {percent(largest[1])}")
        assert row[10], "each protocol quotes its strongest passages"
        assert row[3] in codebook.choices
        assert row[11] in ("strong", "moderate", "weak", "not measured")

    # The reviewer's columns take a codebook level from a drop-down and are editable.
    [choice] = review.data_validations.dataValidation
    assert choice.type == "list"
    assert choice.formula1 == "=Codebook!$D$2:$D$7"
    assert choice.sqref == "G2:G11"
    assert not review.protection.sheet, "reviewers sort, filter, highlight, insert columns"
    assert book.security.lockStructure, "no sheet deleted or renamed"
    assert review.cell(2, 7).protection.locked is False
    assert [c.value for c in book["Codebook"]["A"]][1:] == codebook.codes
    assert [c.value for c in book["Codebook"]["D"]][1:] == codebook.choices

    # The ID in the hidden column is the job item, whatever order the rows are in.
    engine = create_engine(sqlite_service)
    with engine.connect() as connection:
        items = dict(connection.execute(text("SELECT id, external_id FROM job_items")).all())
    engine.dispose()
    assert all(items[r[0]] == r[1] for r in rows)


def test_words_are_coloured_by_their_weight(exported: Path, sqlite_service: str) -> None:
    """Each word of the protocol text is coloured by its stored weight, using several shades of the
    scale."""
    book = load_workbook(exported, rich_text=True)
    review = book["Review"]
    header = [c.value for c in review[1]]
    text_column = header.index("Protocol text") + 1
    engine = open_database(sqlite_service)
    with session_scope(engine) as session:
        data = review_data(session, session.scalar(text("SELECT id FROM jobs")))
        checked = 0
        for index, row in enumerate(data.rows, start=2):
            assert review.cell(index, 1).value == row.item_id
            value = review.cell(index, text_column).value
            assert isinstance(value, CellRichText)
            shown, colours = _char_colours(value)
            bases, position = {}, 0  # where each field's text starts in the cell
            for name, field_text in row.fields.items():
                if field_text:
                    position += len(f"{name}: " if not bases else f"\n\n{name}: ")
                    bases[name] = position
                    position += len(field_text)
            for span in token_spans(session, row.prediction_id):
                start = bases[span.field] + span.start
                if start >= MAX_CELL - 100:
                    continue  # past the cut
                assert shown[start : start + len(span.token)] == span.token
                assert colours[start] == FONTS[shade(span.weight * row.n_tokens)]
                checked += 1
    engine.dispose()
    assert checked > 1000
    used = {c for r in review.iter_rows(min_row=2, min_col=text_column, max_col=text_column)
            for c in _char_colours(r[0].value)[1]}  # fmt: skip
    assert len(used & set(FONTS)) >= 3, "a scale, not one colour"


def test_excel_limits_are_handled_not_hit(exported: Path) -> None:
    """The workbook holds no formulas but the Summary's counts, no control characters and no
    cell over Excel's length limit, cuts an overlong text with a note, and lists the failed
    file."""
    book = load_workbook(exported, rich_text=True)
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if sheet.title != "Summary":
                    assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula"
                value = cell.value
                plain = (
                    "".join(str(r) if isinstance(r, str) else r.text for r in value)
                    if isinstance(value, CellRichText)
                    else value
                )
                if isinstance(plain, str):
                    assert len(plain) <= MAX_CELL
                    assert "\x07" not in plain
                    assert "\x0c" not in plain
    review = book["Review"]
    titles = [c.value for c in review["C"]]
    assert '=HYPERLINK("http://evil.example","click")' in titles
    header = [c.value for c in review[1]]
    texts = [c.value for c in review[get_letter(header.index("Protocol text") + 1)]][1:]
    long_cells = [
        v for v in texts if len("".join(r if isinstance(r, str) else r.text for r in v)) > 30_000
    ]
    assert len(long_cells) == 1
    assert "cut: the text has" in long_cells[0][-1].text
    failed = [r for r in book["Failed"].iter_rows(min_row=2, values_only=True)]
    assert failed == [("empty.txt", None, None, "empty.txt: the file is empty")]


def get_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index)


def test_cenr_export_writes_where_asked(
    exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`cenr export` writes the workbook to the path given, and without any output asked for it
    fails naming `--xlsx FILE`."""
    target = tmp_path / "again" / "job review.xlsx"
    assert main(["export", "--xlsx", str(target), "--csv", str(tmp_path / "rows.csv")]) == 0
    out = capsys.readouterr().out
    assert f"export: {target}" in out
    assert load_workbook(target)["Review"].max_row == 11
    assert main(["export"]) == 1
    assert "--xlsx FILE" in capsys.readouterr().err


def _ids(path: Path) -> list[int]:
    return [r[0] for r in load_workbook(path)["Review"].iter_rows(min_row=2, values_only=True)]


def _identity(path: Path) -> dict[str, object]:
    return dict(load_workbook(path)["_cenr"].iter_rows(values_only=True))


def test_a_job_split_by_size_keeps_the_certainty_order_across_workbooks(
    exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--per-workbook 4` writes three workbooks, least certain first across the job, each
    saying which part it is; together they hold every protocol once."""
    whole = _ids(exported)
    assert main(["export", "--xlsx", str(tmp_path / "r.xlsx"), "--per-workbook", "4"]) == 0
    out = capsys.readouterr().out
    parts = [tmp_path / f"r-{i}.xlsx" for i in (1, 2, 3)]
    assert all(f"export: {p}" in out for p in parts)
    assert not (tmp_path / "r.xlsx").exists()
    assert [i for p in parts for i in _ids(p)] == whole
    assert [len(_ids(p)) for p in parts] == [4, 4, 2]
    identity = _identity(parts[1])
    assert (identity["part"], identity["parts"], identity["job_protocols"]) == (2, 3, 10)
    summary = load_workbook(parts[1])["Summary"]["A1"].value
    assert summary.startswith("Workbook 2 of 3: 4 of the job's 10 protocols, least certain")


def test_exports_written_by_two_processes_are_those_of_one(
    exported: Path, sqlite_service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cenr run`'s exports written by two spawned processes (CENR_EXPORT_PROCESSES) are the
    files one process writes: the same names, rows and pages."""
    import zipfile

    from worker.export import write_exports

    monkeypatch.setenv("CENR_PER_WORKBOOK", "3")  # four workbooks, the bundle and the CSV
    engine = open_database(sqlite_service)
    with session_scope(engine) as session:
        job = session.scalar(text("SELECT id FROM jobs"))
        one = write_exports(session, job, (tmp_path / "one").resolve())
        (tmp_path / "two").mkdir()
        two = write_exports(session, job, (tmp_path / "two").resolve(), 2, sqlite_service)
    engine.dispose()
    assert [p.name for p in one] == [p.name for p in two] == [
        "predictions.csv", "review-1.xlsx", "review-2.xlsx", "review-3.xlsx", "review-4.xlsx",
        "review-html.zip",
    ]  # fmt: skip
    for a, b in zip(one, two, strict=True):
        if a.suffix == ".xlsx":
            assert _ids(a) == _ids(b)
        elif a.suffix == ".zip":
            assert zipfile.ZipFile(a).namelist() == zipfile.ZipFile(b).namelist()
        else:
            assert a.read_text() == b.read_text()


def test_reviewers_get_their_own_workbooks_and_import_in_any_order_twice(
    exported: Path, sqlite_service: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--reviewers ana,ben,cy --overlap 0.2` deals each a workbook with their name filled in
    and a shared set of two; all three import in one call in any order, a second import changes
    nothing, and agreement is measured on the shared protocols."""
    target = tmp_path / "round.xlsx"
    argv = ["export", "--xlsx", str(target), "--reviewers", "ana,ben,cy", "--overlap", "0.2"]
    assert main(argv) == 0
    capsys.readouterr()
    books = {name: tmp_path / f"round-{name}.xlsx" for name in ("ana", "ben", "cy")}
    ids = {name: _ids(path) for name, path in books.items()}
    whole = _ids(exported)
    shared = set(ids["ana"]) & set(ids["ben"]) & set(ids["cy"])
    assert shared == {whole[0], whole[5]}
    assert sorted(i for name in ids for i in ids[name] if i not in shared) == sorted(
        set(whole) - shared
    ), "every other protocol goes to exactly one reviewer"
    for name, path in books.items():
        review = load_workbook(path)["Review"]
        header = [c.value for c in review[1]]
        names = [r[header.index("Reviewer")] for r in review.iter_rows(min_row=2, values_only=True)]
        assert set(names) == {name}, "the reviewer's name is filled in"
        assert _identity(path)["reviewer"] == name
        assert ids[name] == [i for i in whole if i in ids[name]], "least certain first"

    levels = {"ana": "5", "ben": "5", "cy": "3"}
    filled = []
    for name, path in books.items():
        # every row decided; the Reviewer cell emptied: the workbook says whose it is
        decisions = {i: (levels[name], "", "") for i in ids[name]}
        fill_in(path, tmp_path / f"done-{name}.xlsx", decisions)
        filled.append(str(tmp_path / f"done-{name}.xlsx"))
    order = [filled[2], filled[0], filled[1]]
    assert main(["review", "import", *order, "--json"]) == 0
    reports = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [r["imported"] for r in reports] == [len(ids["cy"]), len(ids["ana"]), len(ids["ben"])]
    assert main(["review", "import", *reversed(order), "--json"]) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [r["imported"] for r in again] == [0, 0, 0]
    assert sum(r["unchanged"] for r in again) == sum(len(v) for v in ids.values())
    engine = create_engine(sqlite_service)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT job_item_id, reviewer, level_code FROM reviews"))
        by_reviewer = {(i, r): level for i, r, level in stored}
    engine.dispose()
    assert len(by_reviewer) == 14  # 2 shared x 3 + 8 dealt
    assert {r for _, r in by_reviewer} == {"ana", "ben", "cy"}
    assert main(["review", "agreement", "--json", "--discussion", str(tmp_path / "d.xlsx")]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert sorted(report["disagreements"]) == sorted(shared)
    assert {p["n"] for p in report["pairs"]} == {2}


def test_import_of_several_files_reports_each_and_goes_on_past_a_bad_one(
    exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file that cannot be read is one line naming it; the others are still imported and
    the exit status is 1."""
    ids = _ids(exported)
    fill_in(exported, tmp_path / "ana.xlsx", {ids[0]: ("4", "", "ana")})
    (tmp_path / "junk.xlsx").write_bytes(b"not a zip")
    argv = ["review", "import", str(tmp_path / "junk.xlsx"), str(tmp_path / "ana.xlsx")]
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert "cenr: error: junk.xlsx: not a readable .xlsx workbook" in captured.err
    assert str(tmp_path) not in captured.err + captured.out, "files named by base name only"
    assert "1 imported" in captured.out


def test_review_import_matches_by_id_validates_and_is_idempotent(
    exported: Path, sqlite_service: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review import matches rows by ID, rejects a value that is not a level, fills in a missing
    reviewer from `--reviewer`, and importing the same file again changes nothing."""
    ids = [r[0] for r in load_workbook(exported)["Review"].iter_rows(min_row=2, values_only=True)]
    decisions = {
        ids[0]: ("5", "CAB co-leads", "ana"),
        ids[1]: (3, "informs only", "ana"),
        ids[2]: ("Level 9", "?", "ana"),  # not a level
        ids[3]: ("2", "", ""),  # reviewer from --reviewer
    }
    filled = tmp_path / "ana.xlsx"
    fill_in(exported, filled, decisions)
    assert main(["review", "import", str(filled), "--reviewer", "ben", "--json"]) == 1
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (report["imported"], report["unchanged"], report["not_reviewed"]) == (3, 0, 6)
    [rejected] = report["rejected"]
    assert "not a level" in rejected["reason"] or "Level 9" in rejected["reason"]
    engine = create_engine(sqlite_service)
    with engine.connect() as connection:
        stored = connection.execute(
            text("SELECT job_item_id, reviewer, level_code, rationale FROM reviews ORDER BY id")
        ).all()
    engine.dispose()
    assert sorted(stored) == sorted(
        [(ids[0], "ana", "5", "CAB co-leads"), (ids[1], "ana", "3", "informs only"),
         (ids[3], "ben", "2", "")]
    )  # fmt: skip

    assert main(["review", "import", str(filled), "--reviewer", "ben", "--json"]) == 1
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (again["imported"], again["unchanged"]) == (0, 3), "the same file changes nothing"


def test_review_import_refuses_foreign_workbooks(
    exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review import refuses a workbook not exported by cenr, one for a job the database does not
    have, and a file that is not an .xlsx."""
    from openpyxl import Workbook

    plain = tmp_path / "mine.xlsx"
    Workbook().save(plain)
    assert main(["review", "import", str(plain)]) == 1
    assert "not a review workbook exported by cenr" in capsys.readouterr().err
    other = load_workbook(exported)
    other["_cenr"]["B2"] = "0123456789abcdef"
    other.save(tmp_path / "other.xlsx")
    assert main(["review", "import", str(tmp_path / "other.xlsx")]) == 1
    assert "exported for job 0123456789abcdef, which this database does not have" in (
        capsys.readouterr().err
    )
    (tmp_path / "junk.xlsx").write_bytes(b"not a zip")
    assert main(["review", "import", str(tmp_path / "junk.xlsx")]) == 1
    assert "not a readable .xlsx workbook" in capsys.readouterr().err


def test_kappas_match_hand_computed_values() -> None:
    """Cohen's and Fleiss' kappa match values worked out by hand, and Cohen's kappa is undefined
    when chance agreement is total."""
    from worker.review.ratings import cohen_kappa, fleiss_kappa

    ana, ben = ["5", "5", "3", "3"], ["5", "3", "3", "3"]
    # observed 3/4; chance (2/4)(1/4) + (2/4)(3/4) = 1/2; kappa (3/4 - 1/2) / (1/2) = 0.5
    assert cohen_kappa(ana, ben) == pytest.approx(0.5)
    # shares 3/8, 5/8: chance 34/64; item agreement 1, 0, 1, 1 -> 3/4; (3/4 - 34/64) / (30/64)
    assert fleiss_kappa([list(pair) for pair in zip(ana, ben, strict=True)]) == pytest.approx(
        (0.75 - 34 / 64) / (30 / 64)
    )
    assert cohen_kappa(["1", "1"], ["1", "1"]) is None  # chance agreement 1: undefined


def test_review_agreement_between_reviewers_and_model(
    exported: Path, sqlite_service: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`cenr review agreement` reports the reviewers' kappas, the protocols they disagree on, and
    the model's accuracy against each reviewer."""
    rows = list(load_workbook(exported)["Review"].iter_rows(min_row=2, values_only=True))
    ids, model_levels = [r[0] for r in rows[:4]], [r[3].split()[0] for r in rows[:4]]
    ana = dict(zip(ids, ["5", "5", "3", "3"], strict=True))
    ben = dict(zip(ids, ["5", "3", "3", "3"], strict=True))
    for name, levels in (("ana", ana), ("ben", ben)):
        fill_in(exported, tmp_path / f"{name}.xlsx", {i: (v, "", name) for i, v in levels.items()})
        assert main(["review", "import", str(tmp_path / f"{name}.xlsx")]) == 0
    capsys.readouterr()
    assert main(["review", "agreement", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["reviewers"] == ["ana", "ben"]
    assert report["pairs"][0]["cohen_kappa"] == pytest.approx(0.5)
    assert report["fleiss_kappa"] == pytest.approx((0.75 - 34 / 64) / (30 / 64))
    assert report["disagreements"] == [ids[1]]
    [vs_ana, _] = report["model_vs_reviewer"]
    agree = sum(m == a for m, a in zip(model_levels, ana.values(), strict=True)) / 4
    assert vs_ana["accuracy"] == pytest.approx(agree)


def test_all_levels_needs_a_labelwise_model(
    exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--all-levels` is refused for a model that is not label-wise without writing a file, and an
    HTML bundle path that is not a zip is refused."""
    assert main(["export", "--xlsx", str(tmp_path / "x.xlsx"), "--all-levels"]) == 1
    assert "--all-levels needs a label-wise model" in capsys.readouterr().err
    assert not (tmp_path / "x.xlsx").exists()
    assert main(["export", "--html", str(tmp_path / "x.html")]) == 1
    assert "the HTML bundle is a zip" in capsys.readouterr().err
