"""Model versions on disk: one directory per version under ``CENR_HOME/models``.

A version directory holds everything needed to reproduce its predictions::

    <name>/model.keras        weights + architecture (custom layers registered, no pickle)
    <name>/vocabulary.json    token forms and the text rules that made them
    <name>/codebook.json      the levels, in class-index order
    <name>/config.json        format version, network and training options, columns,
                              calibration temperature, training-data fingerprint
    <name>/metrics.json       the evaluation report on held-out data

It is written to a temporary sibling and renamed into place, so a crash never leaves a
half-written version that looks complete. Loading checks the format version and uses
``safe_mode=True``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from classifier.backend import keras
from classifier.inference import Predictor
from classifier.tokenizer import Vocabulary
from schema.codebook import Codebook
from schema.errors import ConfigError, ModelIncompatibleError, ModelNotFoundError
from schema.protocol import Protocol

FORMAT_VERSION = 1
REQUIRED_FILES = ("model.keras", "vocabulary.json", "codebook.json", "config.json", "metrics.json")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")

# Importing the layers registers them with Keras before any model is loaded.
import classifier.chunks  # noqa: E402
import classifier.layers  # noqa: E402
import classifier.linear  # noqa: E402,F401


@dataclass
class ModelVersion:
    """A loaded model version, ready to predict."""

    name: str
    path: Path
    model: keras.Model
    vocabulary: Vocabulary
    codebook: Codebook
    config: dict[str, Any]
    metrics: dict[str, Any]

    def predictor(self, batch_size: int = 64) -> Predictor:
        return Predictor(
            self.model,
            self.vocabulary,
            self.codebook,
            max_tokens=int(self.config["model"]["max_tokens"]),
            batch_size=batch_size,
        )


def check_name(name: str) -> str:
    """A version name usable as a directory name: letters, digits, ``.``, ``_``, ``-``."""
    if not _NAME.match(name) or ".." in name:
        raise ConfigError(
            f"model name {name!r} must start with a letter or digit and use only "
            "letters, digits, '.', '_' and '-' (at most 100 characters)"
        )
    return name


def require_free_name(models_dir: Path, name: str) -> str:
    """``name`` if it is valid and no version directory has it yet."""
    check_name(name)
    if (models_dir / name).exists():
        raise ConfigError(
            f"a model named {name!r} already exists in {models_dir}; pick another --name"
        )
    return name


def data_fingerprint(protocols: Iterable[Protocol], labels: Iterable[object]) -> str:
    """SHA-256 over every protocol's ID, fields and label, in order."""
    digest = hashlib.sha256()
    for protocol, label in zip(protocols, labels, strict=True):
        digest.update(protocol.protocol_id.encode())
        digest.update(protocol.content_hash().encode())
        digest.update(str(label).encode())
    return digest.hexdigest()


def save_version(
    models_dir: Path,
    name: str,
    model: keras.Model,
    vocabulary: Vocabulary,
    codebook: Codebook,
    config: dict[str, Any],
    metrics: dict[str, Any],
) -> Path:
    """Write a version directory atomically; refuses to overwrite an existing one."""
    target = models_dir / require_free_name(models_dir, name)
    models_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=models_dir))
    try:
        model.save(staging / "model.keras")
        _write_json(staging / "vocabulary.json", vocabulary.to_dict())
        _write_json(staging / "codebook.json", codebook.to_dict())
        _write_json(
            staging / "config.json", {"format_version": FORMAT_VERSION, "name": name, **config}
        )
        _write_json(staging / "metrics.json", metrics)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def load_version(models_dir: Path, name: str) -> ModelVersion:
    """Load a version by name, with a clear error when it is missing or incompatible."""
    check_name(name)
    path = models_dir / name
    if not path.is_dir():
        known = ", ".join(list_version_names(models_dir)) or "none"
        raise ModelNotFoundError(
            f"no model named {name!r} in {models_dir} (available: {known}); "
            "train one with `cenr train` or list them with `cenr models`"
        )
    missing = [f for f in REQUIRED_FILES if not (path / f).is_file()]
    if missing:
        raise ModelIncompatibleError(
            f"model directory {path} is incomplete: missing {', '.join(missing)}"
        )
    config = _read_json(path / "config.json")
    if config.get("format_version") != FORMAT_VERSION:
        raise ModelIncompatibleError(
            f"model {name!r} has format version {config.get('format_version')!r}; this cenr "
            f"reads version {FORMAT_VERSION}: retrain it with `cenr train`"
        )
    try:
        model = keras.saving.load_model(path / "model.keras", safe_mode=True, compile=False)
    except Exception as exc:  # Keras raises many types for a damaged archive
        raise ModelIncompatibleError(f"cannot load {path / 'model.keras'}: {exc}") from exc
    return ModelVersion(
        name=name,
        path=path,
        model=model,
        vocabulary=Vocabulary.from_dict(_read_json(path / "vocabulary.json")),
        codebook=Codebook.from_dict(_read_json(path / "codebook.json"), source=str(path)),
        config=config,
        metrics=_read_json(path / "metrics.json"),
    )


def list_version_names(models_dir: Path) -> list[str]:
    if not models_dir.is_dir():
        return []
    return sorted(p.name for p in models_dir.iterdir() if p.is_dir() and not p.name.startswith("."))


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelIncompatibleError(f"cannot read {path}: {exc}") from exc
