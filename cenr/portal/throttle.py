"""Failed sign-ins slow down the next try: per account and per client address.

Every failed sign-in is a row of ``sign_in_failures`` (the attempts' log, shared by every
portal process through the database) and a line in the portal's log. Within ``WINDOW``,
an account's first ``ACCOUNT_FREE`` failures cost nothing; after that each further try
must wait 1, 2, 4, ... seconds after the last failure, at most ``ACCOUNT_CAP``: a
stranger who types the coordinator's name can hold them off a minute at a time, never
for long, while guessing at about one password a minute. A client address gets
``CLIENT_FREE`` failures, then waits growing to ``CLIENT_CAP``: one machine trying many
names is slowed to a crawl. A throttled try is refused (429, with ``Retry-After``)
before any password is hashed.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from schema.database import aware
from schema.tables import SignInFailure

log = logging.getLogger("cenr.portal.signin")
WINDOW = timedelta(minutes=15)
ACCOUNT_FREE, ACCOUNT_CAP = 5, 60.0
CLIENT_FREE, CLIENT_CAP = 10, 15 * 60.0


def _wait(
    session: Session, column: InstrumentedAttribute[str], value: str, free: int, cap: float
) -> float:
    """Seconds still to wait for one key (an account, an address): 0 when free."""
    now = datetime.now(UTC)
    times = list(
        session.scalars(
            select(SignInFailure.at)
            .where(column == value, SignInFailure.at > now - WINDOW)
            .order_by(SignInFailure.at.desc())
            .limit(free + 20)  # enough to reach the cap
        )
    )
    if len(times) < free:
        return 0.0
    wait = min(cap, 2.0 ** (len(times) - free))
    return max(0.0, (aware(times[0]) + timedelta(seconds=wait) - now).total_seconds())


def retry_after(session: Session, username: str, client: str) -> int:
    """Whole seconds before ``username`` may try again from ``client`` (0: now)."""
    wait = max(
        _wait(session, SignInFailure.username, username[:100], ACCOUNT_FREE, ACCOUNT_CAP),
        _wait(session, SignInFailure.client, client[:100], CLIENT_FREE, CLIENT_CAP),
    )
    if wait > 0:
        log.warning("sign-in throttled: user %r from %s, %.0f s to wait", username, client, wait)
    return math.ceil(wait)


def record_failure(session: Session, username: str, client: str) -> None:
    """Log a failed sign-in and count it for the throttle."""
    session.add(SignInFailure(at=datetime.now(UTC), username=username[:100], client=client[:100]))
    log.warning("failed sign-in: user %r from %s", username, client)
