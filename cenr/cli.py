"""The ``cenr`` command line: argument parsing and the one-line error contract.

Every user error (a :class:`schema.errors.CenrError`) ends as ``cenr: error: ...`` on
stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from cenr import __version__
from cenr.commands import database, jobs, models, reviews, services, training, users
from cenr.report import terminal_safe
from schema.errors import CenrError

ATTENTION = ("additive", "bahdanau", "labelwise")  # classifier.model.ATTENTION_DESIGNS
# classifier.training.EMBEDDING_INITS (kept here so `cenr --help` needs no TensorFlow)
EMBEDDING_INITS = ("corpus", "random", "pretrained")
EMBEDDING_DIM = 64  # classifier.model.ModelConfig.embedding_dim
LINEAR_PARTS = ("none", "tfidf")  # classifier.model.LINEAR_PARTS
HEATMAPS = ("attention", "contributions")  # classifier.model.HEATMAPS


def _columns(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument(
        "--text-column",
        action="append",
        required=required,
        metavar="COL",
        help="a text column; repeat for several fields, kept in this order",
    )
    parser.add_argument("--label-column", required=required, metavar="COL")
    parser.add_argument("--id-column", metavar="COL")


def _job_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="NAME", help="default: the newest registered model")
    parser.add_argument(
        "--text-column", action="append", metavar="COL",
        help="text column of tables; repeat (default: the IRB export's fields, recognised)",
    )  # fmt: skip
    parser.add_argument("--id-column", metavar="COL", help="ID column of tables")
    _per_workbook(parser)
    if parser.prog.split()[-1] in ("run", "submit"):
        parser.add_argument("--timeout", type=float, metavar="SECONDS", help="most time to wait")


def _at_least_one(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{number}: give at least 1")
    return number


def _share(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"{value}: give a share between 0 and 1 (0.2 is 20%)")
    return number


def _per_workbook(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--per-workbook", type=_at_least_one, metavar="N",
        help="most protocols in one review workbook; a bigger job is split, least certain "
        "first (default CENR_PER_WORKBOOK, 100)",
    )  # fmt: skip


def _training_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``train`` and ``evaluate``."""
    p = sub.add_parser("train", help="train, calibrate, evaluate and register a model")
    p.add_argument(
        "data", type=Path, nargs="?", help="labelled protocols: CSV, XLSX or JSONL"
    )  # fmt: skip
    _columns(p, required=False)
    p.add_argument(
        "--from-reviews", nargs="+", metavar="JOB",
        help="learn from the agreed reviewer levels of these jobs (held-out protocols are "
        "drawn from them, and the jobs' models are scored on the same ones)",
    )  # fmt: skip
    held_out = p.add_mutually_exclusive_group()
    held_out.add_argument("--test", type=Path, metavar="DATA2", help="held-out labelled data")
    held_out.add_argument(
        "--test-size", type=float, default=0.2, help="share held out when no --test (default 0.2)"
    )
    p.add_argument("--attention", choices=ATTENTION, default="bahdanau")
    p.add_argument("--epochs", type=int, default=30, help="most epochs (early stopping)")
    p.add_argument(
        "--embedding-init", choices=EMBEDDING_INITS, default=EMBEDDING_INITS[0],
        help="where the word vectors start: corpus (learnt from the training texts, the "
        "default), pretrained (WordLlama's, shipped in its PyPI package) or random",
    )  # fmt: skip
    p.add_argument(
        "--embedding-dim", type=int, default=EMBEDDING_DIM, metavar="N",
        help=f"word vector width (default {EMBEDDING_DIM}; pretrained vectors have up to 256, "
        "and 256 is about 2.6 times slower to classify)",
    )  # fmt: skip
    p.add_argument(
        "--linear", choices=LINEAR_PARTS, default="tfidf",
        help="the linear part whose logits are added to the attention model's: tfidf (words "
        "and word pairs, fitted first; the default) or none (the attention model alone)",
    )  # fmt: skip
    p.add_argument(
        "--linear-vectors", action=argparse.BooleanOptionalAction, default=False,
        help="add WordLlama's pretrained word vectors to the linear part (helped long "
        "documents, cost 2 points on 250 short ones; see README)",
    )  # fmt: skip
    p.add_argument(
        "--linear-c", type=float, default=1.0, metavar="C",
        help="C of the linear part's SVM (default 1, as the baseline's)",
    )  # fmt: skip
    p.add_argument(
        "--heatmap", choices=HEATMAPS, default="contributions",
        help="what the heat-map paints: contributions (each token's exact part in the "
        "logits, the default) or attention (the attention weights; needs --linear none)",
    )  # fmt: skip
    p.add_argument("--name", help="version name (default: <attention>-<UTC time>)")
    p.add_argument("--json", action="store_true", help="last stdout line: the report as JSON")
    p.set_defaults(func=training.train)

    p = sub.add_parser("evaluate", help="evaluate a model on labelled protocols")
    p.add_argument("data", type=Path)
    p.add_argument("--model", required=True, metavar="NAME")
    _columns(p, required=False)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=training.evaluate)


def _model_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``predict``, ``models`` and ``register``."""
    p = sub.add_parser("predict", help="classify one document or text and show its strongest words")
    p.add_argument("target", metavar="FILE_OR_TEXT")
    p.add_argument("--model", metavar="NAME", help="default: the newest registered model")
    p.add_argument("--colour", "--color", choices=("auto", "always", "never"), default="auto")
    p.set_defaults(func=models.predict)

    p = sub.add_parser("models", help="list registered model versions")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=models.models)

    p = sub.add_parser("register", help="register a model directory in the database")
    p.add_argument("name", metavar="NAME", help="a version under CENR_HOME/models")
    p.set_defaults(func=models.register)


def _job_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``run``, ``submit``, ``status``, ``export`` and ``requeue``."""
    p = sub.add_parser("run", help="classify every file in a folder and write the exports")
    p.add_argument("inbox", type=Path, metavar="INBOX", help="folder of protocols (recursive)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for exports")
    _job_options(p)
    p.set_defaults(func=jobs.run)

    p = sub.add_parser("submit", help="queue files for the workers and print the job id")
    p.add_argument("paths", type=Path, nargs="+", metavar="PATH", help="files or folders")
    p.add_argument(
        "--out", type=Path, metavar="DIR", help="exports (default CENR_HOME/exports/JOB)"
    )
    p.add_argument("--wait", action="store_true", help="wait for the job, with a progress bar")
    _job_options(p)
    p.set_defaults(func=jobs.submit)

    p = sub.add_parser("status", help="progress of a job (default: the newest)")
    p.add_argument("job", nargs="?", metavar="JOB")
    p.add_argument("--wait", action="store_true", help="follow it to the end with a progress bar")
    p.add_argument("--timeout", type=float, metavar="SECONDS")
    p.add_argument("--json", action="store_true", help="last stdout line: the counts as JSON")
    p.set_defaults(func=jobs.status)

    p = sub.add_parser("export", help="write a job's review workbook, HTML bundle or CSV")
    p.add_argument("job", nargs="?", metavar="JOB", help="default: the newest job")
    p.add_argument("--xlsx", type=Path, metavar="FILE", help="the colour-coded review workbook")
    p.add_argument(
        "--all-levels", action="store_true",
        help="check the job's model is label-wise (every level's weights: the HTML bundle)",
    )  # fmt: skip
    _per_workbook(p)
    _dealing(p)
    p.add_argument("--csv", type=Path, metavar="FILE", help="one row per protocol")
    p.add_argument(
        "--html", type=Path, metavar="FILE.zip",
        help="the reviewer's package: offline pages with every protocol's heat-map and "
        "the workbooks --xlsx writes, zipped (each row's Protocol ID opens its page)",
    )  # fmt: skip
    p.add_argument(
        "--blind", action="store_true",
        help="a blind round: the workbooks (and bundle) hold the protocol text alone, "
        "nothing the model said; their levels are imported marked blind",
    )  # fmt: skip
    p.set_defaults(func=jobs.export)

    p = sub.add_parser("requeue", help="queue a job's unfinished work again (lost messages)")
    p.add_argument("job", metavar="JOB")
    p.set_defaults(func=jobs.requeue)


def _dealing(p: argparse.ArgumentParser) -> None:
    """``--reviewers`` and ``--overlap``: the workbooks dealt to reviewers (exporters.dealing)."""
    p.add_argument(
        "--reviewers", metavar="A,B,...",
        help="deal each reviewer workbooks of their own (FILE-alice.xlsx, ...), with a "
        "shared overlap set for agreement",
    )  # fmt: skip
    p.add_argument(
        "--overlap", type=_share, default=0.0, metavar="SHARE",
        help="with --reviewers: the share of the protocols every reviewer gets "
        "(drawn evenly from their order; default 0)",
    )  # fmt: skip


def _review_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``review import``, ``remove``, ``history``, ``agreement``, ``issues`` and ``next``."""
    p = sub.add_parser(
        "review", help="reviewers' decisions: import workbooks, agreement, suspect labels, next"
    )
    review = p.add_subparsers(dest="review_command", required=True)
    r = review.add_parser(
        "import", help="store the levels of a review or Discussion (adjudication) workbook"
    )
    r.add_argument(
        "files", type=Path, nargs="+", metavar="FILE.xlsx",
        help="one or more workbooks, in any order (a job's parts, each reviewer's)",
    )  # fmt: skip
    r.add_argument(
        "--reviewer", metavar="NAME",
        help="for rows whose Reviewer cell is empty (default: whom the workbook was dealt to)",
    )  # fmt: skip
    r.add_argument("--json", action="store_true", help="last stdout line: the report as JSON")
    r.set_defaults(func=reviews.review_import)
    _history_commands(review)
    r = review.add_parser("agreement", help="kappas between reviewers and with the model")
    r.add_argument("job", nargs="?", metavar="JOB", help="default: the newest job")
    r.add_argument(
        "--discussion", type=Path, metavar="FILE.xlsx",
        help="where the Discussion workbook goes (default: the job's folder/discussion.xlsx)",
    )  # fmt: skip
    r.add_argument("--json", action="store_true", help="last stdout line: the report as JSON")
    r.set_defaults(func=reviews.review_agreement)
    r = review.add_parser(
        "issues", help="suspect agreed labels (cleanlab, cross-validated) and reviewer quality"
    )
    r.add_argument("jobs", nargs="*", metavar="JOB", help="default: the newest job")
    r.add_argument(
        "--folds", type=int, default=5, metavar="K",
        help="cross-validation folds: K models trained as the job's model was (default 5)",
    )  # fmt: skip
    r.add_argument(
        "--epochs", type=int, metavar="N", help="each fold's epochs (default: the model's)"
    )
    r.add_argument("--limit", type=int, default=20, metavar="N", help="labels printed (20)")
    r.add_argument("--xlsx", type=Path, metavar="FILE", help="every checked label, a workbook")
    r.add_argument("--json", action="store_true", help="last stdout line: the run as JSON")
    r.set_defaults(func=reviews.review_issues)
    r = review.add_parser(
        "next", help="the protocols most worth a reviewer's time, as review workbooks"
    )
    r.add_argument("jobs", nargs="*", metavar="JOB", help="default: the newest job")
    r.add_argument("--n", type=int, required=True, metavar="N", help="how many protocols")
    r.add_argument(
        "--xlsx", type=Path, required=True, metavar="FILE",
        help="the review workbook (FILE-JOB.xlsx each when the protocols come from several jobs)",
    )  # fmt: skip
    _dealing(r)
    r.add_argument("--json", action="store_true", help="last stdout line: the files as JSON")
    r.set_defaults(func=reviews.review_next)
    r = review.add_parser(
        "assign", help="deal a job to portal reviewers (they see only the jobs assigned to them)"
    )
    r.add_argument("job", metavar="JOB")
    r.add_argument("users", nargs="+", metavar="USER", help="portal user names")
    r.add_argument("--remove", action="store_true", help="take the job from these users")
    r.set_defaults(func=reviews.review_assign)


def _history_commands(review: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``review remove`` and ``review history``: the label history (worker.review.history)."""
    r = review.add_parser("remove", help="remove a reviewer's level of a protocol (recorded)")
    r.add_argument("job", metavar="JOB")
    r.add_argument("--protocol", required=True, metavar="ID", help="the protocol's Protocol ID")
    r.add_argument("--reviewer", required=True, metavar="NAME", help="whose level goes")
    r.add_argument("--json", action="store_true", help="last stdout line: the events as JSON")
    r.set_defaults(func=reviews.review_remove)
    r = review.add_parser(
        "history", help="every change of a stored level: who, when, from what (oldest first)"
    )
    r.add_argument("job", nargs="?", metavar="JOB", help="default: every job")
    r.add_argument("--protocol", metavar="ID", help="only this Protocol ID's events")
    r.add_argument("--json", action="store_true", help="the events as one JSON object")
    r.set_defaults(func=reviews.review_history)


def _service_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``worker``, ``watch`` and ``serve``: the long-running processes."""
    p = sub.add_parser("worker", help="start a Celery worker (needs CENR_BROKER_URL)")
    p.add_argument("--queues", default="extract,classify,export", help="comma-separated")
    p.add_argument(
        "--concurrency", type=int, default=None,
        help="worker processes (default CENR_WORKER_CONCURRENCY, 2: one stores while the "
        "other classifies)",
    )  # fmt: skip
    p.add_argument("--pool", choices=("prefork", "solo", "threads"), default="prefork")
    p.add_argument("--loglevel", default="INFO")
    p.add_argument("--hostname", default=f"cenr-{os.getpid()}@%h", help="unique worker name")
    p.set_defaults(func=services.worker)

    p = sub.add_parser("watch", help="submit each file dropped into a folder")
    p.add_argument("inbox", type=Path, metavar="INBOX")
    p.add_argument(
        "--out", type=Path, metavar="DIR", help="exports root (default CENR_HOME/exports)"
    )
    p.add_argument("--interval", type=float, default=1.0, help="seconds between scans")
    p.add_argument(
        "--settle", type=float, default=None,
        help="seconds a file must hold still before it is taken (default "
        "CENR_WATCH_SETTLE_SECONDS, 5)",
    )  # fmt: skip
    _job_options(p)
    p.set_defaults(func=services.watch)

    p = sub.add_parser("serve", help="the reviewer portal (needs CENR_SECRET_KEY)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default local)")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=services.serve)


def _user_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``users add``, ``users list``, ``users disable`` and ``db upgrade``."""
    p = sub.add_parser("users", help="who may sign in to the portal")
    user_commands = p.add_subparsers(dest="users_command", required=True)
    u = user_commands.add_parser("add", help="add a user, or reset their password and role")
    u.add_argument("username", metavar="NAME")
    u.add_argument("--role", choices=("admin", "reviewer"), default="reviewer")
    u.add_argument(
        "--password-stdin", action="store_true",
        help="read the password from the first line of stdin (default: ask twice)",
    )  # fmt: skip
    u.set_defaults(func=users.add_user)
    u = user_commands.add_parser("list", help="list users and roles")
    u.set_defaults(func=users.list_users)
    u = user_commands.add_parser(
        "disable", help="stop a user signing in and end their portal sessions"
    )
    u.add_argument("username", metavar="NAME")
    u.set_defaults(func=users.disable_user)

    p = sub.add_parser("db", help="database maintenance")
    db = p.add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply schema migrations").set_defaults(func=database.db_upgrade)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cenr",
        description="Classify research protocols by CEnR engagement level (0-5) with an "
        "attention classifier, and show which words drove each label.",
    )
    parser.add_argument("--version", action="version", version=f"cenr {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    for add_commands in (
        _training_commands, _model_commands, _job_commands, _review_commands,
        _service_commands, _user_commands,
    ):  # fmt: skip
        add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for count in ("epochs", "embedding_dim"):
        value = getattr(args, count, None)
        if value is not None and value < 1:
            flag = "--" + count.replace("_", "-")
            print(f"cenr: error: {flag} must be at least 1", file=sys.stderr)
            return 1
    if not 0 <= getattr(args, "test_size", 0) < 1:
        print("cenr: error: --test-size must be in [0, 1)", file=sys.stderr)
        return 1
    try:
        return int(args.func(args))
    except CenrError as exc:
        # One line, whatever the driver put in its message (psycopg adds hint lines), and
        # nothing in it (a file's name) drives the terminal.
        print(f"cenr: error: {terminal_safe(' '.join(str(exc).split()))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("cenr: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
