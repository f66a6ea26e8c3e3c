"""Submitting work: find the files, store them with a new job, hand the job to the queue.

Stage: before extract. May touch the jobs and source files tables (the file's bytes are
stored here) and the error log; it knows no stage.

A submitted file's bytes are stored with its job, so a worker on another host needs no
shared folder and a file deleted after submission is not lost. A file that cannot be
read, or is over the size limit, is recorded as a failed source file with the reason,
never dropped. The job is committed (status ``created``) before anything is queued;
:func:`start_job` queues it, and may safely be called again after a crash.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from schema.errors import ConfigError, InputFileError, NotFound
from schema.states import FileState, JobState
from schema.tables import Job, ModelVersion, SourceFile
from worker.settings import SizeLimits
from worker.store import now, record_error

SKIPPED_NAMES = ("processing", "done", "failed")  # the watcher's own folders


@dataclass(frozen=True)
class Submission:
    """A file to submit: where to read it, and the name it is known by in messages."""

    path: Path
    name: str
    watch_path: str | None = None


def gather(paths: Sequence[Path]) -> tuple[list[Submission], list[str]]:
    """Every file under ``paths`` (recursively, in name order), and the hidden ones left out.

    Hidden files and folders (``.DS_Store``, ``.git``) are not protocols; the caller says
    which were skipped, so nothing is left out silently.
    """
    found: list[Submission] = []
    hidden: list[str] = []
    for path in paths:
        if path.is_dir():
            for folder, dirs, files in os.walk(path):
                hidden.extend(str(Path(folder, d).relative_to(path)) for d in dirs if d[0] == ".")
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    full = Path(folder) / name
                    if name.startswith("."):
                        hidden.append(str(full.relative_to(path)))
                    else:
                        found.append(Submission(full, str(full.relative_to(path))))
        elif path.exists() or path.is_symlink():
            found.append(Submission(path, str(path)))
        else:
            raise InputFileError(f"{path}: no such file or folder")
    return found, hidden


def resolve_model(session: Session, name: str | None) -> ModelVersion:
    """The registered model version of that name, or the newest one."""
    query = select(ModelVersion)
    query = (
        query.where(ModelVersion.name == name)
        if name
        else query.order_by(ModelVersion.created_at.desc()).limit(1)
    )
    model = session.scalars(query).first()
    if model is None:
        if name:
            raise NotFound(f"no registered model named {name!r}; see `cenr models`")
        raise ConfigError(
            "no model is registered yet: train one with `cenr train` (or `make demo`)"
        )
    return model


def create_job(
    session: Session,
    submissions: Sequence[Submission],
    model: ModelVersion,
    out_dir: Path,
    origin: str,
    options: dict[str, Any],
    size_limits: SizeLimits,
) -> Job:
    """A new job (status ``created``) holding the files' bytes; unreadable files fail now."""
    job = Job(
        id=uuid.uuid4().hex[:16],
        created_at=now(),
        model_version_id=model.id,
        status=JobState.CREATED,
        origin=origin,
        out_dir=str(out_dir),
        options=options,
    )
    session.add(job)
    session.flush()
    for submission in submissions:
        source = SourceFile(
            job_id=job.id,
            path=submission.name[:2000],
            size=0,
            status=FileState.QUEUED,
            n_documents=0,
            watch_path=submission.watch_path,
        )
        session.add(source)
        problem: str | None = None
        try:
            size = submission.path.stat().st_size
            source.size = size
            if not submission.path.is_file():
                problem = "not a regular file"
            elif size > (limit := size_limits.of(submission.name))[0]:
                problem = (
                    f"{size / 2**20:.1f} MB, over the limit of {limit[0] / 2**20:.0f} MB "
                    f"({limit[1]})"
                )
            else:
                content = submission.path.read_bytes()
                source.content = content
                source.sha256 = hashlib.sha256(content).hexdigest()
        except OSError as exc:
            problem = f"cannot read the file: {exc.strerror or exc}"
        if problem:
            source.status = FileState.FAILED
            session.flush()
            record_error(
                session,
                job.id,
                "extract",
                InputFileError(f"{submission.name}: {problem}"),
                source_file_id=source.id,
            )
    session.flush()
    return job


def queued_files(session: Session, job_id: str) -> list[int]:
    return list(
        session.scalars(
            select(SourceFile.id)
            .where(SourceFile.job_id == job_id, SourceFile.status == FileState.QUEUED)
            .order_by(SourceFile.id)
        )
    )


def mark_queued(session: Session, job_id: str) -> None:
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobState.CREATED)
        .values(status=JobState.QUEUED)
    )
