"""The portal's sub-commands: ``serve``, ``users add`` and ``users list``."""

from __future__ import annotations

import argparse
import getpass
import sys

from cenr.settings import get_settings
from schema.errors import ConfigError


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from cenr.portal.app import create_app

    app = create_app(get_settings())  # refuses a missing or short CENR_SECRET_KEY
    print(f"cenr portal on http://{args.host}:{args.port} (Ctrl-C stops)", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", proxy_headers=True)
    return 0


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ConfigError("the two passwords differ")
    return first


def add_user(args: argparse.Namespace) -> int:
    from cenr.portal.auth import add_user as add
    from schema.database import open_database, session_scope

    password = _password(args.password_stdin)
    engine = open_database(get_settings().resolved_database_url)
    try:
        with session_scope(engine) as session:
            user = add(session, args.username, password, args.role)
            name, role = user.username, user.role
    finally:
        engine.dispose()
    print(f"user {name} ({role}) can sign in")
    return 0


def list_users(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from schema.database import open_database, session_scope
    from schema.tables import User

    engine = open_database(get_settings().resolved_database_url)
    try:
        with session_scope(engine) as session:
            for user in session.scalars(select(User).order_by(User.username)):
                state = "" if user.active else " (disabled)"
                print(f"{user.username}\t{user.role}{state}")
    finally:
        engine.dispose()
    return 0
