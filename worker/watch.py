"""``cenr watch``: a folder where dropping a file submits it.

Stage: before extract (a way in, like ``cenr submit``). May touch its inbox folders and,
through :mod:`worker.jobs` and :mod:`worker.dispatch`, create and start jobs.

The folder's own state is the watcher's memory, so a restart never enqueues a file twice
and never forgets one::

    INBOX/report.pdf               seen; claimed once its size and mtime hold still
    INBOX/processing/report.pdf    claimed (atomic rename), submitted as its own job
    INBOX/done/report.pdf          every protocol in it classified
    INBOX/failed/report.pdf        something failed; report.pdf.error.txt says what

A claimed file's job records its ``processing/`` path. On start the watcher looks at
``processing/``: a file with no job (the watcher died between the rename and the commit)
is submitted; a job still ``created`` (died before queueing) is queued; the rest are
followed to the end. Names starting with ``.`` or ``~$`` and ending in ``.part``,
``.tmp``, ``.crdownload`` are files still being written and are left alone; only the top
level of INBOX is watched.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from schema.database import session_scope
from schema.errors import QueueFull
from schema.states import JobState
from schema.tables import Job, SourceFile
from worker.backpressure import check_capacity
from worker.context import Context
from worker.dispatch import start_job
from worker.jobs import Submission, create_job, resolve_model
from worker.results import job_errors, job_status

log = logging.getLogger(__name__)
IN_PROGRESS_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial")


def _in_progress(name: str) -> bool:
    return name.startswith((".", "~$")) or name.lower().endswith(IN_PROGRESS_SUFFIXES)


def free_name(folder: Path, name: str) -> Path:
    """``folder/name``, or ``name`` with ``-1``, ``-2``, ... before the suffix if taken."""
    candidate = folder / name
    stem, suffix = os.path.splitext(name)
    n = 0
    while candidate.exists() or candidate.with_name(candidate.name + ".error.txt").exists():
        n += 1
        candidate = folder / f"{stem}-{n}{suffix}"
    return candidate


@dataclass
class Watcher:
    inbox: Path
    ctx: Context
    out_root: Path
    model: str | None = None
    options: dict[str, object] = field(default_factory=dict)
    settle_seconds: float = 1.0
    after_submit: Callable[[], None] | None = None  # the embedded runner drains here
    _seen: dict[str, tuple[int, int, float]] = field(default_factory=dict)
    _following: dict[str, str] = field(default_factory=dict)  # processing path -> job id
    _paused: str = ""  # why new files wait in the inbox (backpressure), logged once

    def __post_init__(self) -> None:
        for name in ("processing", "done", "failed"):
            (self.inbox / name).mkdir(parents=True, exist_ok=True)

    @property
    def processing(self) -> Path:
        return self.inbox / "processing"

    def recover(self) -> None:
        """Pick up where a previous watcher stopped (see the module docstring)."""
        for path in sorted(self.processing.iterdir()):
            if not path.is_file():
                continue
            with session_scope(self.ctx.engine) as session:
                row = session.execute(
                    select(Job.id, Job.status)
                    .join(SourceFile, SourceFile.job_id == Job.id)
                    .where(SourceFile.watch_path == str(path))
                    .order_by(Job.created_at.desc())
                ).first()
            if row is None:
                log.info("resubmitting %s (claimed but never submitted)", path.name)
                self._submit(path)
                continue
            job_id, status = row
            if status == JobState.CREATED:
                start_job(self.ctx, job_id)
                if self.after_submit:
                    self.after_submit()
            self._following[str(path)] = job_id

    def poll(self) -> None:
        """One pass: claim settled new files (unless the queue is full), then file away
        finished ones."""
        if self._accepting():
            self._claim_settled()
        self._file_away_finished()

    def _accepting(self) -> bool:
        """False while the queue is full: new files wait in the inbox, nothing is lost."""
        try:
            with session_scope(self.ctx.engine) as session:
                check_capacity(session, self.ctx.settings)
        except QueueFull as exc:
            if str(exc) != self._paused:
                log.warning("new files wait in %s: %s", self.inbox, exc)
            self._paused = str(exc)
            return False
        if self._paused:
            log.warning("the queue has room again: taking new files from %s", self.inbox)
            self._paused = ""
        return True

    def _claim_settled(self) -> None:
        now = time.monotonic()
        for entry in sorted(os.scandir(self.inbox), key=lambda e: e.name):
            if not entry.is_file(follow_symlinks=False) or _in_progress(entry.name):
                continue
            stat = entry.stat(follow_symlinks=False)
            signature = (stat.st_size, stat.st_mtime_ns)
            previous = self._seen.get(entry.name)
            if previous is None or previous[:2] != signature:
                self._seen[entry.name] = (*signature, now)
                continue
            if now - previous[2] < self.settle_seconds:
                continue
            del self._seen[entry.name]
            claimed = free_name(self.processing, entry.name)
            os.rename(entry.path, claimed)  # atomic: the file is ours now
            self._submit(claimed)

    def _submit(self, path: Path) -> None:
        with session_scope(self.ctx.engine) as session:
            model = resolve_model(session, self.model)
            job = create_job(
                session,
                [Submission(path, path.name, watch_path=str(path))],
                model,
                self.out_root,
                "watch",
                dict(self.options),
                self.ctx.settings.size_limits,
            )
            job.out_dir = str(self.out_root / job.id)
            job_id = job.id
        log.info("submitted %s as job %s", path.name, job_id)
        start_job(self.ctx, job_id)
        self._following[str(path)] = job_id
        if self.after_submit:
            self.after_submit()

    def _file_away_finished(self) -> None:
        for path_text, job_id in list(self._following.items()):
            with session_scope(self.ctx.engine) as session:
                status = job_status(session, job_id)
                errors = job_errors(session, job_id) if status.finished else []
            if not status.finished:
                continue
            path = Path(path_text)
            folder = self.inbox / ("failed" if status.failed or errors else "done")
            target = free_name(folder, path.name)
            if errors or status.failed:
                report = target.with_name(target.name + ".error.txt")
                try:
                    report.write_text(
                        f"{path.name}: {status.done} protocol(s) classified, {status.failed} "
                        f"failed (job {job_id})\n" + "".join(f"{line}\n" for line in errors),
                        encoding="utf-8",
                    )
                except OSError as exc:  # a full disk: the reasons stay in the database
                    report.unlink(missing_ok=True)
                    log.error("cannot write %s (%s); `cenr status %s` has the reasons",
                              report, exc.strerror or exc, job_id)  # fmt: skip
            if path.exists():
                os.rename(path, target)
            del self._following[path_text]
            log.info("%s -> %s/", path.name, folder.name)

    def run(self, interval: float = 1.0, stop: Callable[[], bool] = lambda: False) -> None:
        self.recover()
        scanned = False
        while not stop():
            self.poll()
            if not scanned:  # what a restart test (or an operator) waits for
                log.info("inbox scanned: following %d file(s) in %s", len(self._following),
                         self.processing)  # fmt: skip
                scanned = True
            time.sleep(interval)
