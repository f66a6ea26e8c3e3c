"""Who may use the portal: users with hashed passwords, signed sessions that expire, and
CSRF tokens on every state-changing request.

Passwords are hashed with Argon2id (argon2-cffi); a sign-in for an unknown user still
spends the time of one hash, so response times do not tell which names exist. The
session is a signed cookie (Starlette's SessionMiddleware, keyed by ``CENR_SECRET_KEY``)
holding the user's ID, the time of sign-in and a CSRF token; it is refused after
``CENR_SESSION_HOURS`` however often it is used. Forms carry the token in a hidden
``csrf_token`` field, JSON requests in an ``X-CSRF-Token`` header.

The sign-in form is protected the same way before there is a session ("login CSRF": a
foreign page posting the form to sign the victim into the attacker's account): ``GET
/login`` puts a pre-session token in the anonymous session, ``POST /login`` is refused
without it, and signing in clears the session, so each token signs in once.
"""

from __future__ import annotations

import hmac
import secrets
import time
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from schema.errors import ConfigError
from schema.tables import User

ROLES = ("admin", "reviewer")
MIN_PASSWORD = 12
MIN_SECRET = 32
LOGIN_CSRF = "login_csrf"  # the session key of the sign-in form's pre-session token
_HASHER = PasswordHasher()
_DUMMY_HASH = _HASHER.hash("not a password anyone has: equalises sign-in timing")


class SignInRequired(Exception):
    """No valid session: pages redirect to the sign-in page, the API answers 401."""


class Forbidden(Exception):
    """Signed in, but the role does not allow this (403)."""


def check_secret(secret: str) -> str:
    if len(secret) < MIN_SECRET:
        raise ConfigError(
            f"CENR_SECRET_KEY must be a random string of at least {MIN_SECRET} characters "
            "(it signs the portal's sessions); make one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
        )
    return secret


def add_user(session: Session, username: str, password: str, role: str) -> User:
    """Create a user, or set the password and role of an existing one."""
    from worker.store import now

    username = username.strip()
    if not username or len(username) > 100 or any(c.isspace() for c in username):
        raise ConfigError(f"{username!r}: a user name is 1-100 characters without spaces")
    if role not in ROLES:
        raise ConfigError(f"role {role!r}: use one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"a password needs at least {MIN_PASSWORD} characters")
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        user = User(username=username, created_at=now(), active=True)
        session.add(user)
    user.password_hash, user.role, user.active = _HASHER.hash(password), role, True
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this name and password, else None (in about the same time)."""
    user = session.scalar(select(User).where(User.username == username.strip()))
    try:
        _HASHER.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return user if user is not None and user.active else None


def start_session(store: dict[str, Any], user: User) -> None:
    store.clear()  # a new session on sign-in: nothing carried over (session fixation)
    store.update(uid=user.id, at=int(time.time()), csrf=secrets.token_urlsafe(32))


def session_user(session: Session, store: dict[str, Any], max_hours: float) -> User | None:
    uid, at = store.get("uid"), store.get("at")
    if not isinstance(uid, int) or not isinstance(at, int):
        return None
    if time.time() - at > max_hours * 3600:
        store.clear()
        return None
    user = session.get(User, uid)
    return user if user is not None and user.active else None


def login_token(store: dict[str, Any]) -> str:
    """The sign-in form's pre-session token: the session's own, or a new one in it."""
    token = store.get(LOGIN_CSRF)
    if not isinstance(token, str) or not token:
        token = store[LOGIN_CSRF] = secrets.token_urlsafe(32)
    return token


def csrf_ok(store: dict[str, Any], token: str | None, key: str = "csrf") -> bool:
    """Whether ``token`` is the session's token under ``key`` (``LOGIN_CSRF`` for sign-in)."""
    expected = store.get(key)
    if not expected or not token:
        return False
    # as bytes: compare_digest refuses str with non-ASCII characters (a forged form field)
    return hmac.compare_digest(str(expected).encode(), token.encode())
