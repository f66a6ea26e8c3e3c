"""The ``cenr`` command line: argument parsing and the one-line error contract.

Every user error (a :class:`schema.errors.CenrError`) ends as ``cenr: error: ...`` on
stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from cenr import __version__, commands
from schema.errors import CenrError

ATTENTION = ("additive", "bahdanau", "labelwise")


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cenr",
        description="Classify research protocols by CEnR engagement level (0-5) with an "
        "attention classifier, and show which words drove each label.",
    )
    parser.add_argument("--version", action="version", version=f"cenr {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train, calibrate, evaluate and register a model")
    p.add_argument("data", type=Path, help="labelled protocols: CSV, XLSX or JSONL")
    _columns(p, required=True)
    held_out = p.add_mutually_exclusive_group()
    held_out.add_argument("--test", type=Path, metavar="DATA2", help="held-out labelled data")
    held_out.add_argument(
        "--test-size", type=float, default=0.2, help="share held out when no --test (default 0.2)"
    )
    p.add_argument("--attention", choices=ATTENTION, default="bahdanau")
    p.add_argument("--epochs", type=int, default=30, help="most epochs (early stopping)")
    p.add_argument("--name", help="version name (default: <attention>-<UTC time>)")
    p.add_argument("--json", action="store_true", help="last stdout line: the report as JSON")
    p.set_defaults(func=commands.train)

    p = sub.add_parser("evaluate", help="evaluate a model on labelled protocols")
    p.add_argument("data", type=Path)
    p.add_argument("--model", required=True, metavar="NAME")
    _columns(p, required=False)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=commands.evaluate)

    p = sub.add_parser("predict", help="classify one document or text and show its strongest words")
    p.add_argument("target", metavar="FILE_OR_TEXT")
    p.add_argument("--model", metavar="NAME", help="default: the newest registered model")
    p.add_argument("--colour", "--color", choices=("auto", "always", "never"), default="auto")
    p.set_defaults(func=commands.predict)

    p = sub.add_parser("models", help="list registered model versions")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=commands.models)

    p = sub.add_parser("db", help="database maintenance")
    db = p.add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply schema migrations").set_defaults(func=commands.db_upgrade)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "epochs", 1) < 1:
        print("cenr: error: --epochs must be at least 1", file=sys.stderr)
        return 1
    if not 0 <= getattr(args, "test_size", 0) < 1:
        print("cenr: error: --test-size must be in [0, 1)", file=sys.stderr)
        return 1
    try:
        return int(args.func(args))
    except CenrError as exc:
        # One line, whatever the driver put in its message (psycopg adds hint lines).
        print(f"cenr: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("cenr: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
