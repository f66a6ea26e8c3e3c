"""Writing an export so that no reader ever sees half of it."""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def atomic_target(target: Path) -> Iterator[Path]:
    """A temporary path beside ``target``, renamed onto it when the block succeeds and
    removed when it fails."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(
        prefix=f".{target.stem}.", suffix=target.suffix, dir=target.parent
    )
    os.close(handle)
    try:
        yield Path(name)
        os.replace(name, target)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def write_zip_atomically(target: Path, build: Callable[[BinaryIO], None]) -> Path:
    """A zip-based file (a workbook, a bundle) built in memory by ``build``, then written
    under a temporary name and renamed onto ``target``.

    On a full disk a zip writer fails half-closed, and Python's zipfile tries to finish
    it again when it is garbage-collected; in memory, only the final write can fail, and
    :func:`atomic_target` removes what it wrote.
    """
    buffer = io.BytesIO()
    build(buffer)
    with atomic_target(target) as temporary:
        temporary.write_bytes(buffer.getbuffer())
    return target
