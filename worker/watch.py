"""``cenr watch``: a folder where dropping a file submits it.

Stage: before extract (a way in, like ``cenr submit``). May touch its inbox folders and,
through :mod:`worker.jobs` and :mod:`worker.dispatch`, create and start jobs.

The folder's own state is the watcher's memory, so a restart never enqueues a file twice
and never forgets one::

    INBOX/report.pdf               seen; claimed once its size and mtime hold still
    INBOX/processing/report.pdf    claimed (atomic rename), submitted as its own job
    INBOX/done/report.pdf          every protocol in it classified
    INBOX/failed/report.pdf        something failed; report.pdf.error.txt says what

A file is claimed once its size and modification time have held still for the settle
time (``CENR_WATCH_SETTLE_SECONDS``, 5 s): a copy that pauses for less is never taken
half-written. One that pauses for longer is taken, and goes on writing into the same
file (the copy holds it open; a rename does not stop it): so a claimed file is not filed
away while it differs from what its job read. Once its job has ended and the file has
held still again, a file that changed is submitted again as a new version, a new job;
the protocols the earlier version already classified are not classified again
(documents are stored once per content hash, and a document already predicted by the
model is skipped). A file in ``done/`` or ``failed/`` that changes within
:data:`LATE_WRITE_SECONDS` of being filed (a copy that stalled for longer than its job)
goes back to ``processing/`` the same way. So a stalled copy is late, never lost, and
``done/`` holds the whole final file.

A claimed file's job records its ``processing/`` path. On start the watcher looks at
``processing/``: a file with no job (the watcher died between the rename and the commit)
is submitted; a job still ``created`` (died before queueing) is queued; the rest are
followed to the end, and a file whose content is not what its newest job read is taken
again as a new version. (A restart forgets files already filed away.) Names starting
with ``.`` or ``~$`` and ending in ``.part``, ``.tmp``, ``.crdownload``, ``.partial``,
``.filepart``, ``.download`` are files still being written and are left alone; only the
top level of INBOX is watched.
"""

from __future__ import annotations

import hashlib
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
from schema.views import JobStatus
from worker.backpressure import check_capacity
from worker.context import Context
from worker.dispatch import start_job
from worker.jobs import Submission, create_job, resolve_model
from worker.results import job_errors, job_status

log = logging.getLogger(__name__)
# Names that browsers and copy tools (WinSCP, Safari, Office, rsync's dot-files) write
# under until the file is whole.
IN_PROGRESS_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".filepart", ".download")
# A filed file is watched this long for late writes: a copy stalled for longer has failed,
# and its tool says so.
LATE_WRITE_SECONDS = 3600.0

Signature = tuple[int, int]  # (size, mtime in ns): what "held still" compares


def _in_progress(name: str) -> bool:
    return name.startswith((".", "~$")) or name.lower().endswith(IN_PROGRESS_SUFFIXES)


def _signature(path: Path) -> Signature | None:
    """The file's size and modification time; None if it is gone."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_size, stat.st_mtime_ns


def _sha256(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


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
class Claim:
    """A file in ``processing/``: its newest job, and the file as that job read it
    (None: unknown, so the file counts as changed)."""

    job_id: str
    signature: Signature | None


@dataclass
class Filed:
    """A file filed away: watched for late writes until ``until`` (monotonic)."""

    job_id: str
    signature: Signature
    until: float


@dataclass
class Watcher:
    inbox: Path
    ctx: Context
    out_root: Path
    model: str | None = None
    options: dict[str, object] = field(default_factory=dict)
    settle_seconds: float = 5.0
    after_submit: Callable[[], None] | None = None  # the embedded runner drains here
    clock: Callable[[], float] = time.monotonic  # what "held still for" is measured on
    _seen: dict[str, tuple[Signature, float]] = field(default_factory=dict)  # path -> since
    _following: dict[str, Claim] = field(default_factory=dict)  # processing path -> claim
    _filed: dict[str, Filed] = field(default_factory=dict)  # done/failed path -> watch
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
            signature = _signature(path)  # before hashing: a write during it is a change
            with session_scope(self.ctx.engine) as session:
                row = session.execute(
                    select(Job.id, Job.status, SourceFile.sha256)
                    .join(SourceFile, SourceFile.job_id == Job.id)
                    .where(SourceFile.watch_path == str(path))
                    .order_by(Job.created_at.desc())
                ).first()
            if row is None:
                log.info("resubmitting %s (claimed but never submitted)", path.name)
                self._submit(path)
                continue
            job_id, status, sha256 = row
            if status == JobState.CREATED:
                start_job(self.ctx, job_id)
                if self.after_submit:
                    self.after_submit()
            # A file its job never read (too big) has no hash: nothing to compare.
            same = sha256 is None or _sha256(path) == sha256
            self._following[str(path)] = Claim(job_id, signature if same else None)

    def poll(self) -> None:
        """One pass: claim settled new files (unless the queue is full), take back filed
        files written to late, then file away finished ones or submit their new version."""
        accepting = self._accepting()
        if accepting:
            self._claim_settled()
        self._take_late_writes()
        self._follow_claims(accepting)

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

    def _held_still(self, path: Path, signature: Signature) -> bool:
        """True once ``path`` has shown ``signature`` for the settle time."""
        now = self.clock()
        previous = self._seen.get(str(path))
        if previous is None or previous[0] != signature:
            self._seen[str(path)] = (signature, now)
            return False
        return now - previous[1] >= self.settle_seconds

    def _claim_settled(self) -> None:
        present = set()
        for entry in sorted(os.scandir(self.inbox), key=lambda e: e.name):
            if not entry.is_file(follow_symlinks=False) or _in_progress(entry.name):
                continue
            stat = entry.stat(follow_symlinks=False)
            path = Path(entry.path)
            present.add(str(path))
            if not self._held_still(path, (stat.st_size, stat.st_mtime_ns)):
                continue
            del self._seen[str(path)]
            claimed = free_name(self.processing, entry.name)
            os.rename(path, claimed)  # atomic: the file is ours now
            self._submit(claimed)
        for gone in [p for p in self._seen if Path(p).parent == self.inbox]:
            if gone not in present:  # left the inbox unclaimed (deleted, renamed)
                del self._seen[gone]

    def _submit(self, path: Path) -> None:
        signature = _signature(path)  # before the job reads it: a write after is a change
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
        self._following[str(path)] = Claim(job_id, signature)
        if self.after_submit:
            self.after_submit()

    def _follow_claims(self, accepting: bool) -> None:
        """Each claimed file whose job has ended: filed away if it is what the job read,
        else, once it holds still again, submitted as a new version."""
        for path_text, claim in list(self._following.items()):
            with session_scope(self.ctx.engine) as session:
                status = job_status(session, claim.job_id)
            if not status.finished:  # a change waits for the job: nothing classified twice
                continue
            path = Path(path_text)
            current = _signature(path)
            if current is None or current == claim.signature:
                self._file_away(path, status, current)
            elif accepting and self._held_still(path, current):
                del self._seen[path_text]
                self._new_version(path, claim, current)

    def _new_version(self, path: Path, claim: Claim, current: Signature) -> None:
        with session_scope(self.ctx.engine) as session:
            read = session.scalar(
                select(SourceFile.sha256).where(SourceFile.job_id == claim.job_id).limit(1)
            )
        if read is not None and _sha256(path) == read:  # touched, not changed
            claim.signature = current
            return
        log.warning(
            "%s changed after job %s read it (a copy still writing, or appended to): "
            "submitting it again; protocols already classified are not classified twice",
            path.name, claim.job_id,
        )  # fmt: skip
        self._submit(path)

    def _file_away(self, path: Path, status: JobStatus, signature: Signature | None) -> None:
        job_id = status.job
        with session_scope(self.ctx.engine) as session:
            errors = job_errors(session, job_id)
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
        if signature is not None:
            os.rename(path, target)
            until = self.clock() + LATE_WRITE_SECONDS
            self._filed[str(target)] = Filed(job_id, signature, until)
        del self._following[str(path)]
        self._seen.pop(str(path), None)
        log.info("%s -> %s/", path.name, folder.name)

    def _take_late_writes(self) -> None:
        """A filed file that changed (a copy that stalled for longer than its job) goes
        back to ``processing/``, to be submitted again once it holds still."""
        now = self.clock()
        for path_text, filed in list(self._filed.items()):
            path = Path(path_text)
            current = _signature(path)
            if current is None or now >= filed.until:  # moved away, or watched long enough
                del self._filed[path_text]
                continue
            if current == filed.signature:
                continue
            del self._filed[path_text]
            claimed = free_name(self.processing, path.name)
            os.rename(path, claimed)
            log.warning("%s changed after it was filed in %s/: taken back as %s",
                        path.name, path.parent.name, claimed)  # fmt: skip
            self._following[str(claimed)] = Claim(filed.job_id, filed.signature)

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
