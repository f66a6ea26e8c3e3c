"""The one settings object, read from ``CENR_*`` environment variables.

Defaults work embedded, with no server: data under ``./.cenr`` and a SQLite file in it.
Everything else reads settings through :func:`get_settings` so that a test can point the
whole application elsewhere by setting environment variables.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePath

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

TABLE_SUFFIXES = (".csv", ".xlsx", ".jsonl")  # one protocol per row
CHARS_PER_TOKEN = 6  # the demo's protocols: 6.7 characters a token; BBC News about 5.5
HARD_LIMIT_MARGIN = 10  # seconds past the soft limit before a stuck step is killed
RABBITMQ_CONSUMER_TIMEOUT = 1800  # seconds: RabbitMQ's default for an unacknowledged task
REDELIVERY_MARGIN = 5  # seconds past the hard limit before Redis hands a task out again


@dataclass(frozen=True)
class SizeLimits:
    """The largest file accepted: tables hold a protocol a row, so they may be larger."""

    document_bytes: int
    table_bytes: int

    def of(self, name: str) -> tuple[int, str]:
        """The limit for a file of this name, and the setting that sets it."""
        if PurePath(name).suffix.lower() in TABLE_SUFFIXES:
            return self.table_bytes, "CENR_MAX_TABLE_MB"
        return self.document_bytes, "CENR_MAX_FILE_MB"


class Settings(BaseSettings):
    """Application settings; each field is the env var ``CENR_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="CENR_", extra="ignore")

    home: Path = Field(default=Path(".cenr"), description="data folder: models, exports, inbox")
    database_url: str = Field(default="", description="SQLAlchemy URL; default SQLite in home")
    codebook: Path | None = Field(default=None, description="a codebook JSON replacing the default")
    max_tokens: int = Field(default=8192, ge=16, description="longest document kept, in tokens")
    seed: int = Field(default=13, description="seed for splits, initialisation and sampling")
    broker_url: str = Field(
        default="", description="Celery broker (redis://...); empty: tasks run in-process"
    )
    classify_batch: int = Field(default=64, ge=1, le=1024, description="most documents per task")
    task_tokens: int = Field(
        default=50_000, ge=1_000, description="most tokens per classification task (estimated "
        f"as characters / {CHARS_PER_TOKEN}): 1.5 to 3 s of work here, so a task stays far "
        "inside CENR_TASK_TIME_LIMIT and a lost one is redone in seconds",
    )  # fmt: skip
    faithfulness: bool = Field(
        default=True,
        description="measure each prediction's faithfulness (comprehensiveness, sufficiency)",
    )
    max_file_mb: float = Field(
        default=20.0, gt=0, description="largest document file (PDF, DOCX, TXT) accepted"
    )
    max_table_mb: float = Field(
        default=400.0, gt=0, description="largest table (CSV, XLSX, JSONL) accepted: a year's "
        "IRB export of 6,000 protocols is about 150 MB; CENR_MAX_ROWS, the field size and "
        "CENR_MAX_UNZIPPED_MB bound what it may hold",
    )  # fmt: skip
    max_unzipped_mb: float = Field(
        default=200.0, gt=0, description="largest uncompressed content of a DOCX/XLSX (zip "
        "bombs); a year's export of 150 MB of text as XLSX unpacks to about 175 MB",
    )  # fmt: skip
    max_rows: int = Field(default=50_000, ge=1, description="most protocols read from one table")
    max_request_mb: float = Field(
        default=0.0, ge=0, description="largest request body the portal reads (an upload's "
        "files together): a bigger one is answered 413 as soon as it passes this, before "
        "the rest is read; 0: derived, the largest file the portal accepts (CENR_MAX_TABLE_MB, "
        "CENR_MAX_FILE_MB, or CENR_MAX_UNZIPPED_MB for a model zip) + 1 MB for the form",
    )  # fmt: skip
    per_workbook: int = Field(
        default=100, ge=1, description="most protocols in one review workbook: a bigger job "
        "is split, least certain first (100 of about 2,600 tokens: 0.5 MB, loaded by "
        "LibreOffice in about 7 s; 500 took 28 s)",
    )  # fmt: skip
    export_processes: int = Field(
        default=2, ge=1, le=16, description="`cenr run`: processes writing a job's exports "
        "at once (the workbooks and the HTML bundle); distributed, the export is split into "
        "tasks instead (CENR_EXPORT_TASK_PROTOCOLS)",
    )  # fmt: skip
    export_task_protocols: int = Field(
        default=500, ge=1, description="distributed: the workbooks one export task writes "
        "hold at least this many protocols (each task reads the job's rows once)",
    )  # fmt: skip
    max_pdf_pages: int = Field(default=500, ge=1, description="most pages read from one PDF")
    text_columns: list[str] = Field(
        default_factory=list,
        description="text columns of tables (JSON list); default: the IRB export's fields",
    )
    id_column: str = Field(default="", description="ID column of tables; default: recognised")
    visibility_timeout: int = Field(
        default=0, ge=0, description="Redis: seconds before an unacknowledged task is handed "
        "out again; 0: derived, the hard time limit + 5 s (30 s by default)",
    )  # fmt: skip
    worker_concurrency: int = Field(
        default=2, ge=1, le=64, description="processes per `cenr worker` (one stores while "
        "the other classifies)",
    )  # fmt: skip
    max_queued: int = Field(
        default=20_000, ge=0, description="most protocols waiting to be classified before "
        "new submissions are refused (backpressure); 0: no bound",
    )  # fmt: skip
    min_free_mb: float = Field(
        default=200.0, ge=0, description="refuse new submissions when CENR_HOME's disk has "
        "less free space than this",
    )  # fmt: skip
    watch_settle_seconds: float = Field(
        default=5.0, gt=0, description="`cenr watch`: seconds a file's size and modification "
        "time must hold still before it is taken (a copy pausing for longer is taken early, "
        "then again, as a new version, once it is whole: late, never lost)",
    )  # fmt: skip
    task_time_limit: int = Field(
        default=15, ge=1, description="seconds an extraction or classification step may run "
        "before it is stopped and its protocols marked failed (killed 10 s later if stuck)",
    )  # fmt: skip
    export_time_limit: int = Field(
        default=900, ge=1, description="seconds an export step may run (a big job's "
        "workbooks take minutes)",
    )  # fmt: skip
    stall_seconds: int = Field(
        default=1200, ge=5, description="a distributed job with no progress for this long is "
        "queued again (its messages were lost, e.g. a broker restarted without persistence)",
    )  # fmt: skip
    secret_key: str = Field(
        default="", description="signs the portal's session cookies; at least 32 characters"
    )
    session_hours: float = Field(
        default=8.0, gt=0, le=24 * 30, description="portal sign-ins expire after this long"
    )
    secure_cookies: bool = Field(
        default=False, description="portal cookies only over HTTPS (set behind a TLS proxy)"
    )
    portal_heavy_concurrency: int = Field(
        default=2, ge=1, le=64, description="portal: downloads written per request (a job's "
        "workbook, HTML bundle or next round) at once; one that waits longer than a few "
        "seconds for a turn is answered 503 with Retry-After",
    )  # fmt: skip

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @model_validator(mode="after")
    def _limits_fit_together(self) -> Settings:
        longest = max(self.task_time_limit, self.export_time_limit) + HARD_LIMIT_MARGIN
        if self.stall_seconds <= longest:
            raise ValueError(
                f"CENR_STALL_SECONDS ({self.stall_seconds}) must be longer than the longest a "
                f"step can run ({longest} s: CENR_TASK_TIME_LIMIT or CENR_EXPORT_TIME_LIMIT, "
                f"+ {HARD_LIMIT_MARGIN}): a job is queued again only when none of its steps "
                "can still be running"
            )
        if self.visibility_timeout and self.visibility_timeout <= self.task_time_limit:
            raise ValueError(
                f"CENR_VISIBILITY_TIMEOUT ({self.visibility_timeout}) must be longer than "
                f"CENR_TASK_TIME_LIMIT ({self.task_time_limit}): Redis would hand a task out "
                "again while it still runs (0 derives it)"
            )
        if self.broker_url.startswith("amqp") and self.hard_time_limit >= RABBITMQ_CONSUMER_TIMEOUT:
            raise ValueError(
                f"CENR_TASK_TIME_LIMIT ({self.task_time_limit}) + {HARD_LIMIT_MARGIN} must be "
                f"under RabbitMQ's consumer_timeout ({RABBITMQ_CONSUMER_TIMEOUT} s): it closes "
                "the channel of a task unacknowledged for longer"
            )
        return self

    @property
    def hard_time_limit(self) -> int:
        """When a step stuck past its soft limit (in native code, say) is killed."""
        return self.task_time_limit + HARD_LIMIT_MARGIN

    @property
    def lost_after(self) -> float | None:
        """Distributed: running protocols with no progress for longer than this belong to
        a lost worker (see ``cenr status``); embedded, none can be lost."""
        return float(self.hard_time_limit) if self.broker_url else None

    @property
    def redelivery_seconds(self) -> int:
        """Redis's visibility timeout: a lost worker's task comes back after this long."""
        return self.visibility_timeout or self.hard_time_limit + REDELIVERY_MARGIN

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def exports_dir(self) -> Path:
        return self.home / "exports"

    @property
    def uploads_dir(self) -> Path:
        return self.home / "uploads"

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)

    @property
    def max_request_bytes(self) -> int:
        """The largest request body the portal reads (``max_request_mb``, or derived)."""
        if self.max_request_mb:
            return int(self.max_request_mb * 2**20)
        largest = max(self.max_table_mb, self.max_file_mb, self.max_unzipped_mb)
        return int((largest + 1) * 2**20)

    @property
    def size_limits(self) -> SizeLimits:
        return SizeLimits(self.max_file_bytes, int(self.max_table_mb * 1024 * 1024))

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file under ``home``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'cenr.sqlite3'}"


def get_settings() -> Settings:
    """Read the settings from the current environment (cheap; call where needed).

    A variable with an unusable value is a :class:`ConfigError` naming it.
    """
    from schema.errors import ConfigError

    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = "_".join(str(part) for part in error["loc"]).upper()
            where = f"CENR_{name}: " if name else ""
            value = f" (got {error['input']!r})" if name else ""
            problems.append(f"{where}{error['msg'].removeprefix('Value error, ')}{value}")
        raise ConfigError("; ".join(problems)) from None
