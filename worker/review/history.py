"""The label history: every change of a stored level, who made it, when and from what.

Stage: after export (reviewers' work coming back). Writes :class:`LabelEvent` rows, only
ever inserting them (the table is append-only; the database refuses anything else), in
the transaction of the change they record; removes a reviewer's level; reads the history
back for ``cenr review history`` and the portal.
"""

from __future__ import annotations

import getpass
import json
import os
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from schema.database import aware
from schema.errors import NotFound
from schema.tables import Adjudication, Job, JobItem, LabelEvent, Review
from worker.store import now

# What happened to a level, by the table it is stored in: stored anew, or replaced.
STORED = {"reviews": "imported", "adjudications": "adjudicated"}
CHANGED = {"reviews": "changed", "adjudications": "adjudication changed"}
REMOVED = "removed"  # a reviewer's level (`cenr review remove`)
FIELDS = (
    "at", "job", "protocol", "item", "action", "reviewer", "from_level", "to_level",
    "rationale", "actor", "channel", "source",
)  # fmt: skip


def os_user() -> str:
    """The operating-system account running this process, from its user id: not from
    ``USER`` or ``LOGNAME``, which anyone can set."""
    try:
        import pwd
    except ImportError:  # Windows: no user ids, the login name is what there is
        return getpass.getuser()
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # a user id without a password entry (a bare container)
        return f"uid {os.getuid()}"


def cli_actor(reviewer: str | None) -> str:
    """Who acts on the command line: the ``--reviewer`` name, which anyone may type, with
    the operating-system user, which they cannot (``ana (os: root)``)."""
    user = os_user()
    return f"{reviewer} (os: {user})" if reviewer else f"os: {user}"


def record(
    session: Session,
    decision: Review | Adjudication,
    item: JobItem,
    action: str,
    from_level: str | None,
    actor: str,
    channel: str,
    source: str,
    at: datetime | None = None,
) -> LabelEvent:
    """Add the event of ``decision``'s change (to its state now: ``to_level`` is empty
    for a removal) to the session, so it commits with the change or not at all."""
    event = LabelEvent(
        at=at or now(), action=action, actor=actor[:300], channel=channel,
        job_id=decision.job_id, job_item_id=item.id, protocol=item.external_id,
        reviewer=decision.reviewer, from_level=from_level,
        to_level=None if action == REMOVED else decision.level_code,
        rationale=decision.rationale, source=source[:300],
    )  # fmt: skip
    session.add(event)
    return event


def remove_review(
    session: Session, job_id: str, protocol: str, reviewer: str, actor: str, channel: str
) -> list[LabelEvent]:
    """Remove ``reviewer``'s level of the job's protocol ``protocol`` (its Protocol ID;
    every item of that ID), recording each removal; NotFound when there is none."""
    if session.get(Job, job_id) is None:
        raise NotFound(f"no job {job_id!r}")
    found = session.execute(
        select(Review, JobItem)
        .join(JobItem, JobItem.id == Review.job_item_id)
        .where(Review.job_id == job_id, JobItem.external_id == protocol,
               Review.reviewer == reviewer[:200])
        .order_by(JobItem.id)
    ).all()  # fmt: skip
    if not found:
        raise NotFound(f"job {job_id} has no level of {reviewer!r} for protocol {protocol!r}")
    events = []
    for review, item in found:
        events.append(
            record(session, review, item, REMOVED, review.level_code, actor, channel, "")
        )  # fmt: skip
        session.delete(review)
    return events


def _iso(at: datetime) -> str:
    """An event's time in UTC (SQLite hands it back without its zone)."""
    return aware(at).astimezone(UTC).isoformat()


def as_dict(event: LabelEvent) -> dict[str, Any]:
    return {
        "at": _iso(event.at), "job": event.job_id, "protocol": event.protocol,
        "item": event.job_item_id, "action": event.action, "reviewer": event.reviewer,
        "from_level": event.from_level, "to_level": event.to_level,
        "rationale": event.rationale, "actor": event.actor, "channel": event.channel,
        "source": event.source,
    }  # fmt: skip


def label_history(
    session: Session,
    job_id: str | None = None,
    protocol: str | None = None,
    item_id: int | None = None,
) -> list[dict[str, Any]]:
    """The events of a job (every job: None), of one Protocol ID or one job item, oldest
    first; NotFound for a job this database does not have."""
    if job_id is not None and session.get(Job, job_id) is None:
        raise NotFound(f"no job {job_id!r}")
    query = select(LabelEvent).order_by(LabelEvent.at, LabelEvent.id)
    if job_id is not None:
        query = query.where(LabelEvent.job_id == job_id)
    if protocol is not None:
        query = query.where(LabelEvent.protocol == protocol)
    if item_id is not None:
        query = query.where(LabelEvent.job_item_id == item_id)
    return [as_dict(event) for event in session.scalars(query)]


def history_line(event: dict[str, Any]) -> str:
    """One event in words: ``2026-12-04 20:31:07 UTC job J P-1: ana changed 2 -> 4
    (by ana (os: root), cli, ana.xlsx): "rationale"``."""
    at = datetime.fromisoformat(event["at"]).strftime("%Y-%m-%d %H:%M:%S UTC")
    levels = f"{event['from_level'] or '-'} -> {event['to_level'] or '-'}"
    how = ", ".join(v for v in (event["channel"], event["source"]) if v)
    line = (
        f"{at} job {event['job']} {event['protocol']}: {event['reviewer']} {event['action']} "
        f"{levels} (by {event['actor']}, {how})"
    )
    if not event["rationale"]:
        return line
    return f"{line}: {json.dumps(event['rationale'], ensure_ascii=False)}"
