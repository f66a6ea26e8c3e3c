"""Which reviewer may see which job: the coordinator deals jobs to reviewers.

Stage: none (people's work around the pipeline). Writes ``job_assignments``. An admin
sees every job; a reviewer sees, downloads and returns levels for the jobs assigned to
them, and no other (the portal answers 404 for those, as for a job that does not exist).
``cenr review assign``, ``cenr export --reviewers``, ``cenr review next --reviewers`` and
the portal's job page assign.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from schema.errors import ConfigError, NotFound
from schema.tables import Job, JobAssignment, User


def _users(session: Session, names: Sequence[str]) -> list[User]:
    """The users of these names, or ConfigError naming every one that does not exist."""
    wanted = list(dict.fromkeys(n.strip() for n in names if n.strip()))
    if not wanted:
        raise ConfigError("name at least one user to assign")
    found = {u.username: u for u in session.scalars(select(User).where(User.username.in_(wanted)))}
    missing = [n for n in wanted if n not in found]
    if missing:
        raise ConfigError(
            f"no portal user {', '.join(repr(n) for n in missing)}: add with "
            "`cenr users add NAME --role reviewer`"
        )
    return [found[n] for n in wanted]


def assign(
    session: Session, job_id: str, names: Sequence[str], by: str, remove: bool = False
) -> list[str]:
    """Assign the job to these users (or with ``remove`` take it from them); returns the
    job's reviewers afterwards."""
    if session.get(Job, job_id) is None:
        raise NotFound(f"no job {job_id!r}; `cenr status` shows the newest")
    users = _users(session, names)
    ids = [u.id for u in users]
    if remove:
        session.execute(
            delete(JobAssignment).where(
                JobAssignment.job_id == job_id, JobAssignment.user_id.in_(ids)
            )
        )
    else:
        have = set(
            session.scalars(select(JobAssignment.user_id).where(JobAssignment.job_id == job_id))
        )
        now = datetime.now(UTC)
        for user in users:
            if user.id not in have:
                session.add(
                    JobAssignment(job_id=job_id, user_id=user.id, assigned_at=now, assigned_by=by)
                )
    session.flush()
    return assigned_to(session, job_id)


def assign_known(session: Session, job_id: str, names: Sequence[str], by: str) -> list[str]:
    """Assign the job to those of ``names`` who are portal users (workbooks may be dealt
    to people who only use the files); returns the names that are not users."""
    known = set(session.scalars(select(User.username).where(User.username.in_([*names]))))
    if known:
        assign(session, job_id, sorted(known), by)
    return [n for n in names if n not in known]


def assigned_to(session: Session, job_id: str) -> list[str]:
    """The names of the users the job is assigned to, alphabetically."""
    return list(
        session.scalars(
            select(User.username)
            .join(JobAssignment, JobAssignment.user_id == User.id)
            .where(JobAssignment.job_id == job_id)
            .order_by(User.username)
        )
    )


def may_see(session: Session, user: User, job_id: str) -> bool:
    """Whether ``user`` may see the job: an admin always, a reviewer when assigned."""
    if user.role == "admin":
        return True
    key = (job_id, user.id)
    return session.get(JobAssignment, key) is not None


def visible_job_ids(session: Session, user: User) -> list[str] | None:
    """The jobs a reviewer is assigned (None for an admin: every job)."""
    if user.role == "admin":
        return None
    return list(
        session.scalars(select(JobAssignment.job_id).where(JobAssignment.user_id == user.id))
    )
