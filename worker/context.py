"""The per-process context every stage's step receives: settings, the database engine,
the dispatcher that hands on the next step, and the models this process has loaded.

Stage: none (shared by all). May touch the settings, the database engine and the model
registry; it knows no stage.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from billiard.exceptions import SoftTimeLimitExceeded
from sqlalchemy import Engine

from schema.database import session_scope
from schema.errors import DatabaseError, ModelIncompatibleError
from worker.settings import Settings

log = logging.getLogger(__name__)
# Not a problem of the document at hand: the step stops and its caller decides.
STOP_STEP = (DatabaseError, MemoryError, SoftTimeLimitExceeded)


class Dispatcher(Protocol):
    """Hands the next step to whoever runs steps: a Celery queue or the local runner."""

    def extract(self, job_id: str, file_id: int) -> None: ...
    def classify(self, job_id: str, item_ids: list[int]) -> None: ...
    def export(self, job_id: str, piece: dict[str, Any] | None = None) -> None: ...


@dataclass
class Context:
    """What a step needs: settings, the database, the dispatcher and loaded models."""

    settings: Settings
    engine: Engine
    dispatcher: Dispatcher
    predictors: dict[str, Any] = field(default_factory=dict)
    # Other workers share the queue: a model this one cannot load is theirs to run,
    # rather than a reason to fail the documents.
    others_may_serve: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def predictor(self, name: str) -> Any:
        """The model version's predictor, loaded once per process on first use."""
        with self._lock:
            if name not in self.predictors:
                from classifier.registry import load_version
                from worker.model_store import ensure_local

                try:
                    with session_scope(self.engine) as session:  # another host: from the store
                        ensure_local(session, self.settings.models_dir, name)
                except OSError as exc:
                    raise ModelIncompatibleError(
                        f"cannot put model {name} under {self.settings.models_dir}: {exc}"
                    ) from exc
                version = load_version(self.settings.models_dir, name)
                self.predictors[name] = version.predictor(batch_size=self.settings.classify_batch)
            return self.predictors[name]
