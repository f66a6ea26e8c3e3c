"""How much heavy work the portal does at once: a few slots per kind of work.

A request that writes a download (a job's review workbook, HTML bundle or next round:
seconds of CPU and tens of MB each) takes a slot of its kind for that work and gives it
back after. With every slot taken it waits up to ``WAIT_SECONDS`` for one, then gives up
with :class:`Busy` (the portal's 503 with Retry-After), so a burst of such requests
queues briefly or is refused instead of running all at once and exhausting memory and
CPU. (Password hashing has its own turn, :func:`cenr.portal.auth.hashing`.)

Use it around the heavy call only, from a route's worker thread (a ``def`` route or
``run_in_threadpool``), never on the event loop: waiting for a slot blocks the thread::

    with bounded("download"):
        path = export_html(...)

The number of slots comes from ``CENR_PORTAL_HEAVY_CONCURRENCY``; :func:`configure` sets
it (``create_app`` calls it), and until then each kind has ``DEFAULT_SLOTS``. Another
kind of heavy work is one more name in ``Kind`` and ``WHAT`` and its size in
:func:`configure`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from schema.errors import QueueFull
from worker.settings import Settings

Kind = Literal["download", "hash"]
DEFAULT_SLOTS = 2
HASH_SLOTS = 2  # Argon2id at 64 MiB each: forty parallel sign-ins cost 0.9 GB unbounded
WAIT_SECONDS = 5.0  # longer than a typical download's writing, far shorter than a timeout
WHAT: dict[Kind, str] = {"download": "writing other downloads", "hash": "signing other people in"}

_lock = threading.Lock()
_slots: dict[Kind, threading.BoundedSemaphore] = {}


class Busy(QueueFull):
    """Every slot of a kind of heavy work stayed taken for ``WAIT_SECONDS`` (the portal's
    503, with Retry-After)."""


def configure(settings: Settings) -> None:
    """Size each kind's slots from the settings (work holding an old slot still gives it
    back to the old set)."""
    sizes: dict[Kind, int] = {"download": settings.portal_heavy_concurrency, "hash": HASH_SLOTS}
    with _lock:
        for kind, size in sizes.items():
            _slots[kind] = threading.BoundedSemaphore(size)


def _slots_of(kind: Kind) -> threading.BoundedSemaphore:
    with _lock:
        return _slots.setdefault(kind, threading.BoundedSemaphore(DEFAULT_SLOTS))


@contextmanager
def bounded(kind: Kind, wait: float | None = None) -> Iterator[None]:
    """Hold one of ``kind``'s slots for the block; :class:`Busy` if none frees up within
    ``wait`` seconds (default ``WAIT_SECONDS``)."""
    slots = _slots_of(kind)
    if not slots.acquire(timeout=WAIT_SECONDS if wait is None else wait):
        raise Busy(f"the portal is busy {WHAT[kind]}; try again in a minute")
    try:
        yield
    finally:
        slots.release()
