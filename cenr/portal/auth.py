"""Who may use the portal: users with hashed passwords, signed sessions that expire, and
CSRF tokens on every state-changing request.

Passwords are hashed with Argon2id (argon2-cffi); a sign-in for an unknown user still
spends the time of one hash, so response times do not tell which names exist. The
session is a signed cookie (Starlette's SessionMiddleware, keyed by ``CENR_SECRET_KEY``)
holding the user's ID, the time of sign-in and a CSRF token; it is refused after
``CENR_SESSION_HOURS`` however often it is used. Forms carry the token in a hidden
``csrf_token`` field, JSON requests in an ``X-CSRF-Token`` header.
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


def csrf_ok(store: dict[str, Any], token: str | None) -> bool:
    expected = store.get("csrf")
    return bool(expected and token and hmac.compare_digest(str(expected), token))
