"""``cenr users add``, ``list`` and ``disable``: who may sign in to the portal. Adding a
user who exists resets their password and ends their sessions."""

from __future__ import annotations

import argparse
import getpass
import sys

from sqlalchemy import select

from schema.errors import ConfigError
from worker.settings import get_settings


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


def disable_user(args: argparse.Namespace) -> int:
    from cenr.portal.auth import disable_user as disable
    from schema.database import open_database, session_scope

    engine = open_database(get_settings().resolved_database_url)
    try:
        with session_scope(engine) as session:
            ended = disable(session, args.username)
    finally:
        engine.dispose()
    print(f"user {args.username} can no longer sign in; {ended} session(s) ended")
    return 0


def list_users(args: argparse.Namespace) -> int:

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
