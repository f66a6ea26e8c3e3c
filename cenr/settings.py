"""The one settings object, read from ``CENR_*`` environment variables.

Defaults work embedded, with no server: data under ``./.cenr`` and a SQLite file in it.
Everything else reads settings through :func:`get_settings` so that a test can point the
whole application elsewhere by setting environment variables.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Application settings; each field is the env var ``CENR_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="CENR_", extra="ignore")

    home: Path = Field(default=Path(".cenr"), description="data folder: models, exports, inbox")
    database_url: str = Field(default="", description="SQLAlchemy URL; default SQLite in home")
    codebook: Path | None = Field(default=None, description="a codebook JSON replacing the default")
    max_tokens: int = Field(default=8192, ge=16, description="longest document kept, in tokens")
    seed: int = Field(default=13, description="seed for splits, initialisation and sampling")

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file under ``home``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'cenr.sqlite3'}"


def get_settings() -> Settings:
    """Read the settings from the current environment (cheap; call where needed)."""
    return Settings()
