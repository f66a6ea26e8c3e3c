"""The states a job, a submitted file and a job item go through, named once.

Each is a :class:`enum.StrEnum`, so a member is the very string stored in the ``status``
column (SQLite and PostgreSQL bind it as text) and compares equal to what is read back.
"""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    """A submission: created -> queued -> running -> exporting -> done."""

    CREATED = "created"  # its files are being recorded
    QUEUED = "queued"  # its files wait to be extracted
    RUNNING = "running"  # a file was extracted; protocols are being classified
    EXPORTING = "exporting"  # every protocol is done or failed; the exports are written
    DONE = "done"


class FileState(StrEnum):
    """A submitted file: queued -> extracted | failed."""

    QUEUED = "queued"
    EXTRACTED = "extracted"
    FAILED = "failed"


class ItemState(StrEnum):
    """A protocol of a job: waiting (extracted, not yet handed to the queue) -> queued ->
    running -> done | failed."""

    WAITING = "waiting"
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


PENDING_ITEMS = (ItemState.WAITING, ItemState.QUEUED, ItemState.RUNNING)  # work still to do
UNFINISHED_JOBS = (JobState.CREATED, JobState.QUEUED, JobState.RUNNING, JobState.EXPORTING)
