"""Who may use the portal: users with hashed passwords that are hard to guess, sessions
kept on the server so that they can be ended, and CSRF tokens on every state-changing
request.

Passwords are hashed with Argon2id (argon2-cffi), at most ``bounds.HASH_SLOTS`` at a time
(each takes 64 MiB: forty parallel sign-ins must not take a gigabyte); a sign-in for an
unknown user still spends the time of one hash, so response times do not tell which
names exist. A password needs ``MIN_PASSWORD`` characters and must not be blank,
repeated or guessable: zxcvbn (its lists of common passwords, names and words, and the
user's own name) must score it at least ``MIN_PASSWORD_SCORE`` of 4.

A session is a row of ``user_sessions``: the cookie (Starlette's SessionMiddleware,
signed with ``CENR_SECRET_KEY``) carries a random token whose SHA-256 is the row's key,
the time of sign-in and a CSRF token. Logging out ends the row; so do a password reset
and ``cenr users disable``, for every session of that user. A cookie is refused once its
row has ended, after ``CENR_SESSION_HOURS`` however often it is used, and when its sign-in
time lies in the future (a forged or replayed cookie). The key itself must be random:
:func:`check_secret` refuses the example file's placeholder and anything zxcvbn can guess.
Forms carry the CSRF token in a hidden ``csrf_token`` field, JSON requests in an
``X-CSRF-Token`` header.

The sign-in form is protected before there is a session ("login CSRF": a foreign page
posting the form to sign the victim into the attacker's account) by a double-submit
token kept out of the session: ``GET /login`` renders a random token in the form and
sets it, signed with the secret key and the time, in its own cookie (``cenr_login``:
HttpOnly, SameSite=Strict, path ``/login``, an hour); ``POST /login`` is refused unless
the form's token matches a cookie the server minted within the hour. A token signs in
once: the session made with it records its SHA-256 (unique), so replaying the form is
refused. The session cookie is not touched until sign-in: a signed-in user who follows a
link from another site arrives without it (SameSite=Strict) and lands on the sign-in
page, which must not replace the session the browser still holds.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, TimestampSigner
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from zxcvbn import zxcvbn

from cenr.portal.bounds import bounded
from schema.database import aware
from schema.errors import ConfigError
from schema.tables import User, UserSession

log = logging.getLogger(__name__)
ROLES = ("admin", "reviewer")
MIN_PASSWORD = 12
MIN_PASSWORD_SCORE = 3  # zxcvbn's 0-4: 3 is "safely unguessable" (about 10^8 guesses)
MIN_SECRET = 32
# zxcvbn's guesses for the key, as a power of ten: a random 32-character key scores about
# 32, the example file's placeholder 34 (hence its own refusal), 40 repeated letters 3.
MIN_SECRET_GUESSES_LOG10 = 30
PLACEHOLDERS = ("change-me", "changeme", "change_me", "placeholder", "example", "your-secret")
CLOCK_SKEW = 60  # seconds a sign-in time may lie ahead of this server's clock
HASHING_WAIT = 30.0  # seconds a sign-in waits for its turn before a 503
LOGIN_COOKIE = "cenr_login"  # the sign-in form's pre-session token, signed
LOGIN_PATH = "/login"  # the only path the browser sends it to
LOGIN_HOURS = 1  # how long a sign-in form stays usable
_LOGIN_SALT = "cenr.portal.login-csrf"  # not the session's signer: one cookie is not the other
_HASHER = PasswordHasher()
_DUMMY_HASH = _HASHER.hash("not a password anyone has: equalises sign-in timing")
KEY_RECIPE = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"


class SignInRequired(Exception):
    """No valid session: pages redirect to the sign-in page, the API answers 401."""


class Forbidden(Exception):
    """Signed in, but the role does not allow this (403)."""


def check_secret(secret: str) -> str:
    """``secret`` if it can sign sessions; else ConfigError saying how to make one."""
    how = f"make one with `{KEY_RECIPE}`"
    if len(secret) < MIN_SECRET:
        raise ConfigError(
            f"CENR_SECRET_KEY must be a random string of at least {MIN_SECRET} characters "
            f"(it signs the portal's sessions); {how}"
        )
    if any(word in secret.lower() for word in PLACEHOLDERS):
        raise ConfigError(f"CENR_SECRET_KEY is the example file's placeholder; {how}")
    if zxcvbn(secret[:100])["guesses_log10"] < MIN_SECRET_GUESSES_LOG10:
        raise ConfigError(
            f"CENR_SECRET_KEY is too easy to guess (repeated characters, words or a pattern); {how}"
        )
    return secret


def check_password(password: str, username: str) -> str:
    """``password`` if it may be used; else ConfigError naming the rule it breaks."""
    if not password.strip():
        raise ConfigError("a password cannot be blank")
    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(set(password)) < 5 or re.fullmatch(r"(.{1,6}?)\1+", password):
        raise ConfigError("a password cannot be one short run of characters repeated")
    verdict = zxcvbn(password[:100], user_inputs=[username, "cenr", "portal", "review"])
    if verdict["score"] < MIN_PASSWORD_SCORE:
        hint = verdict["feedback"].get("warning") or "it is easy to guess"
        raise ConfigError(f"that password is too common or guessable ({hint.rstrip('.')})")
    return password


def hashing() -> AbstractContextManager[None]:
    """A turn at Argon2 (:mod:`cenr.portal.bounds`, ``HASH_SLOTS`` at once); a 503 when
    none comes within ``HASHING_WAIT`` seconds."""
    return bounded("hash", wait=HASHING_WAIT)


def _now() -> datetime:
    return datetime.now(UTC)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def end_sessions(session: Session, user_id: int, why: str) -> int:
    """End every open session of the user (a password reset, a disabled account);
    returns how many."""
    result = session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
        .values(ended_at=_now(), ended_why=why)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def add_user(session: Session, username: str, password: str, role: str) -> User:
    """Create a user, or set the password and role of an existing one (which ends every
    session signed in with the old password)."""
    username = username.strip()
    if not username or len(username) > 100 or any(c.isspace() for c in username):
        raise ConfigError(f"{username!r}: a user name is 1-100 characters without spaces")
    if role not in ROLES:
        raise ConfigError(f"role {role!r}: use one of {', '.join(ROLES)}")
    check_password(password, username)
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        user = User(username=username, created_at=_now(), active=True)
        session.add(user)
    else:
        end_sessions(session, user.id, "password reset")
    with hashing():
        user.password_hash = _HASHER.hash(password)
    user.role, user.active = role, True
    session.flush()
    return user


def disable_user(session: Session, username: str) -> int:
    """Stop a user signing in and end their sessions; returns how many were ended."""
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        raise ConfigError(f"no user {username!r}; `cenr users list` shows who there is")
    user.active = False
    return end_sessions(session, user.id, "disabled")


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this name and password, else None (in about the same time)."""
    user = session.scalar(select(User).where(User.username == username.strip()))
    try:
        with hashing():
            _HASHER.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return user if user is not None and user.active else None


def login_token_used(session: Session, token: str) -> bool:
    """Whether a session was already made with this sign-in form's token."""
    found = session.scalar(select(UserSession.id).where(UserSession.login_token == _digest(token)))
    return found is not None


def start_session(
    session: Session, store: dict[str, Any], user: User, login_token: str, client: str
) -> None:
    """A new server-side session for ``user``, made with the sign-in form's token, in the
    cookie ``store``: nothing of an earlier session is carried over (session fixation)."""
    token = secrets.token_urlsafe(32)
    session.add(
        UserSession(
            id=_digest(token), user_id=user.id, created_at=_now(),
            login_token=_digest(login_token), client=client[:100],
        )
    )  # fmt: skip
    session.flush()  # a replayed form token breaks the unique constraint here
    store.clear()
    store.update(sid=token, at=int(time.time()), csrf=secrets.token_urlsafe(32))


def end_session(session: Session, store: dict[str, Any], why: str = "signed out") -> None:
    """End the cookie's session on the server (a replayed cookie is then refused)."""
    token = store.get("sid")
    if isinstance(token, str):
        row = session.get(UserSession, _digest(token))
        if row is not None and row.ended_at is None:
            row.ended_at, row.ended_why = _now(), why
    store.clear()


def session_user(session: Session, store: dict[str, Any], max_hours: float) -> User | None:
    """The user of a cookie's session, or None: no session, ended on the server, older
    than ``max_hours``, signed in at a time still to come, or the user disabled."""
    token, at = store.get("sid"), store.get("at")
    if not isinstance(token, str) or not isinstance(at, int):
        return None
    age = time.time() - at
    if age > max_hours * 3600 or age < -CLOCK_SKEW:
        store.clear()
        return None
    row = session.get(UserSession, _digest(token))
    if (
        row is None
        or row.ended_at is not None
        or _now() - aware(row.created_at) > timedelta(hours=max_hours)
    ):
        store.clear()
        return None
    user = session.get(User, row.user_id)
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
