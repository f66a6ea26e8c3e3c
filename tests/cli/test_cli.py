"""The `cenr` command line end to end: train, evaluate, predict, models, and its errors.

Errors must end in one `cenr: error:` line and exit status 1, never a traceback.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cenr.cli import main

from ..conftest import DEMO_COLUMNS, PROTOCOLS_CSV, ROOT, last_json_line


def _train_error(capsys: pytest.CaptureFixture[str], path: Path, table: str, *extra: str) -> str:
    """Write ``table`` (columns t, l[, id]) to ``path`` and return the training error."""
    path.write_text(table, encoding="utf-8")
    return _error(capsys, ["train", str(path), "--text-column", "t", "--label-column", "l", *extra])


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("cenr: error: ")
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1
    return err


def test_train_json_report_has_the_promised_keys(use_trained: Path) -> None:
    """The trained model's saved report has accuracy, macro-F1, per-class, ECE and model."""
    metrics = json.loads((use_trained / "models" / "tiny" / "metrics.json").read_text())
    for key in ("accuracy", "macro_f1", "per_class", "model", "confusion_matrix", "ece"):
        assert key in metrics
    assert metrics["model"] == "tiny"
    assert set(metrics["per_class"]) == {"0", "1", "2", "3", "4", "5"}
    assert metrics["calibration"]["ece_before"] >= 0
    assert metrics["faithfulness"]["share_positive"] >= 0


def test_evaluate_prints_a_report_and_json(use_trained: Path, capsys) -> None:
    """`cenr evaluate --json` ends with one JSON object for the named model."""
    assert main(["evaluate", str(PROTOCOLS_CSV), "--model", "tiny", "--json"]) == 0
    out = capsys.readouterr().out
    assert "confusion matrix" in out
    report = last_json_line(out)
    assert report["model"] == "tiny"
    assert report["n"] == 180
    assert 0.0 <= report["macro_f1"] <= 1.0


def test_predict_shows_level_confidence_and_strongest_tokens(use_trained: Path, capsys) -> None:
    """`cenr predict` on a text file prints the level and marks the strongest words."""
    sample = ROOT / "demo" / "sample_protocol.txt"
    assert main(["predict", str(sample), "--colour", "never"]) == 0
    out = capsys.readouterr().out
    assert "level " in out
    assert "confidence" in out
    assert "model tiny" in out
    assert "strongest tokens:" in out
    assert "\nevidence by field: " in out  # each field's share, then the strongest passages
    assert "[[" in out
    assert "faithfulness" in out


def test_predict_colours_on_request(use_trained: Path, capsys) -> None:
    """With --colour always the strongest words carry ANSI colour codes."""
    assert main(["predict", "a steering committee shares decisions", "--colour", "always"]) == 0
    assert "\x1b[" in capsys.readouterr().out


def test_models_lists_registered_versions(use_trained: Path, capsys) -> None:
    """`cenr models --json` lists the trained version, present on disk."""
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["on_disk"]) for r in rows] == [("tiny", True)]


def test_train_registers_the_model_in_postgres(
    postgres_url: str, cenr_home: Path, monkeypatch, capsys
) -> None:
    """With CENR_DATABASE_URL on PostgreSQL, training registers the version there."""
    from schema.database import upgrade

    upgrade(postgres_url)
    monkeypatch.setenv("CENR_DATABASE_URL", postgres_url)
    argv = ["train", str(PROTOCOLS_CSV), *DEMO_COLUMNS, "--epochs", "1", "--name", "pg1",
            "--attention", "labelwise", "--json"]  # fmt: skip
    assert main(argv) == 0
    assert last_json_line(capsys.readouterr().out)["model"] == "pg1"
    assert main(["models", "--json"]) == 0
    assert [r["name"] for r in json.loads(capsys.readouterr().out)] == ["pg1"]


def test_unknown_column_is_one_line(cenr_home: Path, capsys) -> None:
    """A misspelt column name is a one-line error listing the file's columns."""
    err = _error(
        capsys, ["train", str(PROTOCOLS_CSV), "--text-column", "Aims", "--label-column", "Level"]
    )
    assert "no column 'Aims'" in err
    assert "'AimsGoals'" in err


def test_single_class_training_data_is_refused(cenr_home: Path, tmp_path: Path, capsys) -> None:
    """Training data with one level is refused before any training."""
    table = "t,l\n" + "".join(f"text {i},2\n" for i in range(10))
    err = _train_error(capsys, tmp_path / "one.csv", table)
    assert "all 10 protocols have level 2" in err


def test_empty_training_file_is_refused(cenr_home: Path, tmp_path: Path, capsys) -> None:
    """A table with a header and no rows is refused."""
    assert "no labelled protocols" in _train_error(capsys, tmp_path / "empty.csv", "t,l\n")


def test_label_outside_codebook_names_the_protocol(cenr_home: Path, tmp_path: Path, capsys) -> None:
    """A level the codebook does not have names the file and the protocol."""
    table = "id,t,l\nA,x,1\nB,y,9\n"
    err = _train_error(capsys, tmp_path / "bad.csv", table, "--id-column", "id")
    assert "bad.csv: protocol B: label '9' is not a level" in err


def test_unreadable_file_is_one_line(cenr_home: Path, tmp_path: Path, capsys) -> None:
    """A corrupt spreadsheet is a one-line error naming it."""
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"garbage")
    err = _error(capsys, ["train", str(path), "--text-column", "t", "--label-column", "l"])
    assert "broken.xlsx: damaged or not an Office file" in err


def test_missing_model_is_one_line(cenr_home: Path, capsys) -> None:
    """Predicting with a model that does not exist is a one-line error."""
    assert "no model named 'ghost'" in _error(capsys, ["predict", "text", "--model", "ghost"])


def test_no_model_yet_says_how_to_get_one(cenr_home: Path, capsys) -> None:
    """Predicting before any training tells the user to train."""
    assert "train one with `cenr train`" in _error(capsys, ["predict", "some text"])


def test_incompatible_model_is_one_line(
    use_trained: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    """A model directory from another format version is a one-line error."""
    home = tmp_path / "home"
    shutil.copytree(use_trained / "models", home / "models")
    config = home / "models" / "tiny" / "config.json"
    config.write_text(config.read_text().replace('"format_version": 1', '"format_version": 0'))
    monkeypatch.setenv("CENR_HOME", str(home))
    assert "format version 0" in _error(capsys, ["predict", "text", "--model", "tiny"])


def test_console_script_exits_1_with_one_line(tmp_path: Path) -> None:
    """The installed `cenr` command keeps the contract in a real process."""
    env = {**os.environ, "CENR_HOME": str(tmp_path)}
    cenr = Path(sys.executable).parent / "cenr"
    missing = str(tmp_path / "none.csv")
    result = subprocess.run(
        [str(cenr), "train", missing, "--text-column", "t", "--label-column", "l"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("cenr: error: ")
    assert "none.csv: no such file" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_train_with_a_separate_test_file(cenr_home: Path, tmp_path: Path, capsys) -> None:
    """--test DATA2 evaluates on that file, all of DATA is used for training."""
    lines = PROTOCOLS_CSV.read_text(encoding="utf-8").splitlines(keepends=True)
    rows = list(csv.reader(lines))
    header, body = rows[0], rows[1:]
    train_csv, test_csv = tmp_path / "train.csv", tmp_path / "test.csv"
    for path, part in ((train_csv, body[:150]), (test_csv, body[150:])):
        with path.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows([header, *part])
    argv = ["train", str(train_csv), *DEMO_COLUMNS, "--test", str(test_csv), "--epochs", "1",
            "--attention", "additive", "--embedding-init", "random", "--embedding-dim", "24",
            "--name", "split", "--json"]  # fmt: skip
    assert main(argv) == 0
    report = last_json_line(capsys.readouterr().out)
    assert report["training"]["n_train"] == 150
    assert report["training"]["n_test"] == report["n"] == 30
    saved = json.loads((cenr_home / "models" / "split" / "config.json").read_text())
    assert saved["training"]["embedding_init"] == "random"
    assert saved["training"]["embedding_dim"] == 24


def test_the_command_line_offers_what_the_classifier_accepts() -> None:
    """The parser keeps its own copies of the choices (no TensorFlow for --help)."""
    from cenr import cli
    from classifier.model import ATTENTION_DESIGNS, HEATMAPS, LINEAR_PARTS, ModelConfig
    from classifier.training import EMBEDDING_INITS, TrainingOptions

    assert cli.ATTENTION == ATTENTION_DESIGNS
    assert cli.EMBEDDING_INITS == EMBEDDING_INITS
    assert cli.EMBEDDING_INITS[0] == TrainingOptions().embedding_init
    assert ModelConfig.embedding_dim == cli.EMBEDDING_DIM
    assert (cli.LINEAR_PARTS, cli.HEATMAPS) == (LINEAR_PARTS, HEATMAPS)
    defaults = cli.build_parser().parse_args(["train", "x.csv"])
    for option in ("linear", "linear_vectors", "linear_c", "heatmap"):
        assert getattr(defaults, option) == getattr(TrainingOptions(), option), option


def test_existing_model_name_is_refused_before_training(use_trained: Path, capsys) -> None:
    """Training under a name already taken fails at once, leaving the old model intact."""
    err = _error(capsys, ["train", str(PROTOCOLS_CSV), *DEMO_COLUMNS, "--name", "tiny"])
    assert "a model named 'tiny' already exists" in err


def test_name_registered_without_files_is_refused_before_training(
    use_trained: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    """A name still in the database (its folder deleted) is refused up front."""
    home = tmp_path / "home"
    shutil.copytree(use_trained, home)
    shutil.rmtree(home / "models" / "tiny")
    monkeypatch.setenv("CENR_HOME", str(home))
    err = _error(capsys, ["train", str(PROTOCOLS_CSV), *DEMO_COLUMNS, "--name", "tiny"])
    assert "a model named 'tiny' is already registered" in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--embedding-dim", "0"], "--embedding-dim must be at least 1"),
        (["--test-size", "1.5"], "--test-size must be in [0, 1)"),
        (["--test-size", "0"], "give --test DATA or a --test-size above 0"),
        (["--heatmap", "attention"], "a tfidf linear part is not painted by the attention"),
        (["--linear", "none", "--linear-vectors"], "pretrained vectors in the linear part"),
        (["--linear-c", "0"], "linear_c must be positive, not 0.0"),
    ],
)
def test_bad_training_options_are_one_line(
    cenr_home: Path, capsys, extra: list[str], message: str
) -> None:
    """Options that cannot work are refused before any training."""
    assert message in _error(capsys, ["train", str(PROTOCOLS_CSV), *DEMO_COLUMNS, *extra])


def test_predict_with_no_text_is_refused(use_trained: Path, tmp_path: Path, capsys) -> None:
    """An empty document is a one-line error naming it."""
    empty = tmp_path / "empty.txt"
    empty.write_text("   \n")
    assert "empty.txt: no text to classify" in _error(capsys, ["predict", str(empty)])


def test_unreachable_database_is_one_line(cenr_home: Path, monkeypatch, capsys) -> None:
    """A database URL nobody answers is a one-line error without the password."""
    monkeypatch.setenv(
        "CENR_DATABASE_URL", "postgresql+psycopg://u:secret@127.0.0.1:1/x?connect_timeout=2"
    )
    err = _error(capsys, ["models"])
    assert "cannot reach the database" in err
    assert "secret" not in err


def test_custom_codebook_drives_training_labels(
    cenr_home: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    """With CENR_CODEBOOK set, labels are checked against that codebook instead."""
    codebook = tmp_path / "yesno.json"
    codebook.write_text(
        json.dumps({"name": "yes/no", "levels": [{"code": "no", "name": "No"},
                                                  {"code": "yes", "name": "Yes"}]})
    )  # fmt: skip
    monkeypatch.setenv("CENR_CODEBOOK", str(codebook))
    err = _error(capsys, ["train", str(PROTOCOLS_CSV), *DEMO_COLUMNS])
    assert re.search(
        r"protocol HM2\d{7}: label '\d' is not a level of the codebook 'yes/no' "
        r"\(levels: no, yes\)",
        err,
    ), err


def test_too_small_for_a_test_split_is_one_line(cenr_home: Path, tmp_path: Path, capsys) -> None:
    """Eighteen protocols over six levels cannot give a stratified 20% test set."""
    table = "t,l\n" + "".join(f"words {i},{i % 6}\n" for i in range(18))
    err = _train_error(capsys, tmp_path / "small.csv", table)
    assert "18 protocols are too few to hold out a stratified test set of 20%" in err


def test_db_upgrade_creates_the_embedded_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make demo` on a fresh clone runs `cenr db upgrade` before anything made CENR_HOME."""
    monkeypatch.setenv("CENR_HOME", str(tmp_path / "fresh" / "home"))
    monkeypatch.delenv("CENR_DATABASE_URL", raising=False)
    assert main(["db", "upgrade"]) == 0
    assert "database schema at" in capsys.readouterr().out
    assert (tmp_path / "fresh" / "home" / "cenr.sqlite3").is_file()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"CENR_MAX_ROWS": "many"}, "CENR_MAX_ROWS: Input should be a valid integer, unable to "
         "parse string as an integer (got 'many')"),
        ({"CENR_CLASSIFY_BATCH": "0"}, "CENR_CLASSIFY_BATCH: Input should be greater than or "
         "equal to 1 (got '0')"),
        ({"CENR_STALL_SECONDS": "60", "CENR_TASK_TIME_LIMIT": "60"}, "CENR_STALL_SECONDS (60) "
         "must be longer than the longest a step can run (910 s: CENR_TASK_TIME_LIMIT or "
         "CENR_EXPORT_TIME_LIMIT, + 10): a job is queued again only when none of its steps "
         "can still be running"),
        ({"CENR_VISIBILITY_TIMEOUT": "15"}, "CENR_VISIBILITY_TIMEOUT (15) must be longer than "
         "CENR_TASK_TIME_LIMIT (15): Redis would hand a task out again while it still runs "
         "(0 derives it)"),
        ({"CENR_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//", "CENR_TASK_TIME_LIMIT":
          "1800", "CENR_STALL_SECONDS": "4000"}, "CENR_TASK_TIME_LIMIT (1800) + 10 must be "
         "under RabbitMQ's consumer_timeout (1800 s): it closes the channel of a task "
         "unacknowledged for longer"),
        ({"CENR_PER_WORKBOOK": "0"}, "CENR_PER_WORKBOOK: Input should be greater than or "
         "equal to 1 (got '0')"),
    ],
)  # fmt: skip
def test_an_unusable_setting_is_a_one_line_error(
    cenr_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    settings: dict[str, str], message: str,
) -> None:  # fmt: skip
    """A malformed or contradictory setting in the environment stops the command with a one-line
    error naming the setting and the problem."""
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    assert _error(capsys, ["models"]) == f"cenr: error: {message}"


def test_a_model_folder_that_cannot_be_written_is_a_one_line_error(
    sqlite_service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """When the models folder cannot be created, `cenr run` stops with a one-line error naming the
    model and the folder."""
    home = tmp_path / "other-host"
    home.mkdir()
    (home / "models").write_text("a file where the models folder should be")
    monkeypatch.setenv("CENR_HOME", str(home))
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "a.txt").write_text("Community partners co-lead the study.")
    err = _error(capsys, ["run", str(tmp_path / "inbox"), "--out", str(tmp_path / "out")])
    assert err.startswith(f"cenr: error: cannot put model tiny under {home / 'models'}: ")
