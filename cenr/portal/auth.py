"""Who may use the portal: users with hashed passwords, signed sessions that expire, and
CSRF tokens on every state-changing request.

Passwords are hashed with Argon2id (argon2-cffi); a sign-in for an unknown user still
spends the time of one hash, so response times do not tell which names exist. The
session is a signed cookie (Starlette's SessionMiddleware, keyed by ``CENR_SECRET_KEY``)
holding the user's ID, the time of sign-in and a CSRF token; it is refused after
``CENR_SESSION_HOURS`` however often it is used. Forms carry the token in a hidden
``csrf_token`` field, JSON requests in an ``X-CSRF-Token`` header.

The sign-in form is protected before there is a session ("login CSRF": a foreign page
posting the form to sign the victim into the attacker's account) by a double-submit
token kept out of the session: ``GET /login`` renders a random token in the form and
sets it, signed with the secret key and the time, in its own cookie (``cenr_login``:
HttpOnly, SameSite=Strict, path ``/login``, an hour); ``POST /login`` is refused unless
the form's token matches a cookie the server minted within the hour, and signing in
deletes the cookie, so each token signs in once. The session cookie is not touched
until sign-in: a signed-in user who follows a link from another site arrives without it
(SameSite=Strict) and lands on the sign-in page, which must not replace the session the
browser still holds.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, TimestampSigner
from sqlalchemy import select
from sqlalchemy.orm import Session

from schema.errors import ConfigError
from schema.tables import User

ROLES = ("admin", "reviewer")
MIN_PASSWORD = 12
MIN_SECRET = 32
LOGIN_COOKIE = "cenr_login"  # the sign-in form's pre-session token, signed
LOGIN_PATH = "/login"  # the only path the browser sends it to
LOGIN_HOURS = 1  # how long a sign-in form stays usable
_LOGIN_SALT = "cenr.portal.login-csrf"  # not the session's signer: one cookie is not the other
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


def _login_signer(secret: str) -> TimestampSigner:
    return TimestampSigner(secret, salt=_LOGIN_SALT, digest_method=hashlib.sha256)


def login_cookie_token(secret: str, cookie: str | None) -> str | None:
    """The token in a sign-in cookie this server signed within ``LOGIN_HOURS``, else None."""
    if not cookie:
        return None
    try:
        token = _login_signer(secret).unsign(cookie, max_age=LOGIN_HOURS * 3600).decode()
    except BadSignature:
        return None
    return token or None


def login_cookie(secret: str, cookie: str | None) -> tuple[str, str]:
    """The sign-in form's token and the cookie value to set: the token of a valid cookie
    (open forms in other tabs stay usable), re-signed for another hour, or a new one."""
    token = login_cookie_token(secret, cookie) or secrets.token_urlsafe(32)
    return token, _login_signer(secret).sign(token).decode()


def same_token(expected: str | None, sent: str | None) -> bool:
    """Whether ``sent`` is ``expected``, in constant time; an empty one matches nothing."""
    if not expected or not sent:
        return False
    # as bytes: compare_digest refuses str with non-ASCII characters (a forged form field)
    return hmac.compare_digest(expected.encode(), sent.encode())


def csrf_ok(store: dict[str, Any], token: str | None) -> bool:
    """Whether ``token`` is the session's CSRF token."""
    expected = store.get("csrf")
    return same_token(expected if isinstance(expected, str) else None, token)
