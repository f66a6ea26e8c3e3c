"""The model store: model versions' files kept in the database, cached on each host.

Stage: none (shared by classify and the CLI). May touch the model versions and model
files tables and the local model folder.

``cenr train`` and ``cenr register`` put every file of a version's folder into
``model_files``; a worker that needs a version it does not have (another host, a fresh
container) writes them into ``CENR_HOME/models/NAME`` - into a temporary folder first,
checking each file's SHA-256, then renamed into place - and loads it from there as
always (``safe_mode=True``). A cached folder whose files no longer match the store is
replaced. The codebook is read straight from the store, so exporters need no model files.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from schema.codebook import Codebook, model_codebook
from schema.errors import ConfigError, InputFileError, NotFound
from schema.tables import ModelFile, ModelVersion


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def store_model_files(session: Session, version: ModelVersion, directory: Path) -> int:
    """Put the files of ``directory`` into the store for ``version`` (once); returns how
    many were added."""
    stored = set(
        session.scalars(select(ModelFile.name).where(ModelFile.model_version_id == version.id))
    )
    added = 0
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        name = path.relative_to(directory).as_posix()
        if name in stored:
            continue
        content = path.read_bytes()
        session.add(ModelFile(model_version_id=version.id, name=name, sha256=_sha256(content),
                              content=content))  # fmt: skip
        added += 1
    session.flush()
    return added


def _manifest(session: Session, version_id: int) -> dict[str, str]:
    rows = session.execute(
        select(ModelFile.name, ModelFile.sha256).where(ModelFile.model_version_id == version_id)
    )
    return {name: digest for name, digest in rows}


def _matches(directory: Path, manifest: dict[str, str]) -> bool:
    try:
        return all(_sha256((directory / name).read_bytes()) == digest
                   for name, digest in manifest.items())  # fmt: skip
    except OSError:
        return False


def ensure_local(session: Session, models_dir: Path, name: str) -> Path:
    """The version's folder under ``models_dir``, fetched from the store if it is missing
    or differs from it."""
    version = session.scalar(select(ModelVersion).where(ModelVersion.name == name))
    if version is None:
        raise NotFound(f"no model version {name!r} is registered")
    manifest = _manifest(session, version.id)
    target = models_dir / name
    if not manifest:
        if target.is_dir():
            return target  # registered before the store existed: the local folder it is
        raise ConfigError(
            f"model {name} is not in the model store and not under {models_dir}: run "
            f"`cenr register {name}` where its folder is"
        )
    if _matches(target, manifest):
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=models_dir))
    try:
        files = session.scalars(
            select(ModelFile)
            .where(ModelFile.model_version_id == version.id)
            .options(undefer(ModelFile.content))
        )
        for stored in files:
            if _sha256(stored.content) != stored.sha256:
                raise ConfigError(f"model {name}: {stored.name} in the store is corrupt")
            path = (scratch / stored.name).resolve()
            if scratch.resolve() not in path.parents:
                raise ConfigError(f"model {name}: unsafe file name {stored.name!r} in the store")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(stored.content)
        if target.exists():
            stale = Path(tempfile.mkdtemp(prefix=f".{name}.old.", dir=models_dir))
            os.replace(target, stale / name)
            shutil.rmtree(stale, ignore_errors=True)
        os.replace(scratch, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _stored_file(session: Session, version_id: int, name: str) -> bytes | None:
    return session.scalar(
        select(ModelFile.content).where(
            ModelFile.model_version_id == version_id, ModelFile.name == name
        )
    )


def _version_path(session: Session, version_id: int) -> Path:
    version = session.get(ModelVersion, version_id)
    if version is None:
        raise NotFound(f"no model version {version_id}")
    return Path(version.path)


def codebook_of(session: Session, version_id: int) -> Codebook:
    """The codebook a version was trained with, from the store (or its folder)."""
    content = _stored_file(session, version_id, "codebook.json")
    if content is not None:
        return Codebook.from_dict(json.loads(content), source=f"model store, version {version_id}")
    return model_codebook(_version_path(session, version_id))


def config_of(session: Session, version_id: int) -> dict[str, Any]:
    """A version's ``config.json`` (network and training options), from the store (or its
    folder)."""
    content = _stored_file(session, version_id, "config.json")
    if content is None:
        path = _version_path(session, version_id) / "config.json"
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"model version {version_id}: cannot read {path}: {exc}") from exc
    config: dict[str, Any] = json.loads(content)
    return config


def registry_row(path: Path, config: dict[str, Any], metrics: dict[str, Any]) -> ModelVersion:
    """The ``model_versions`` row of a saved version directory."""
    return ModelVersion(
        name=path.name,
        attention=config["model"]["attention"],
        created_at=datetime.fromisoformat(config["created_at"]),
        path=str(path),
        data_fingerprint=config["data_fingerprint"],
        n_training=int(metrics.get("training", {}).get("n_train", 0)),
        accuracy=metrics.get("accuracy"),
        macro_f1=metrics.get("macro_f1"),
        temperature=float(config["temperature"]),
        metrics=metrics,
    )


def install_archive(session: Session, archive: Path, models_dir: Path, limit: int) -> str:
    """Register a model version uploaded as a zip of its folder (files at the top, or in
    one folder named after the version); returns its name.

    Member names are checked before anything is written (no absolute paths, no ``..``),
    the unpacked size is bounded by ``limit`` bytes, and the version must load (format,
    files, ``safe_mode=True``) before it is registered.
    """
    from classifier.registry import check_name, load_version

    try:
        bundle = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputFileError(f"{archive.name}: not a zip archive of a model folder") from exc
    with bundle:
        members = [m for m in bundle.infolist() if not m.is_dir()]
        for member in members:
            parts = member.filename.replace("\\", "/").split("/")
            if member.filename.startswith("/") or ".." in parts or ":" in member.filename:
                raise InputFileError(f"{archive.name}: unsafe member name {member.filename!r}")
        if sum(m.file_size for m in members) > limit:
            raise InputFileError(f"{archive.name}: unpacks to more than {limit / 2**20:.0f} MB")
        tops = {m.filename.split("/")[0] for m in members if "/" in m.filename}
        nested = len(tops) == 1 and all("/" in m.filename for m in members)
        name = check_name(tops.pop() if nested else Path(archive.name).stem)
        if session.scalar(select(ModelVersion.id).where(ModelVersion.name == name)):
            raise ConfigError(f"a model named {name!r} is already registered")
        if (models_dir / name).exists():
            raise ConfigError(f"{models_dir / name} already exists on this host")
        models_dir.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".upload.", dir=models_dir))
        try:
            for member in members:
                relative = member.filename.split("/", 1)[1] if nested else member.filename
                target = (scratch / name / relative).resolve()
                if scratch.resolve() not in target.parents:
                    raise InputFileError(f"{archive.name}: unsafe member {member.filename!r}")
                target.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(member) as source, target.open("wb") as out:
                    shutil.copyfileobj(source, out)
            version = load_version(scratch, name)  # refuses a broken or foreign folder
            os.replace(scratch / name, models_dir / name)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    row = registry_row(models_dir / name, version.config, version.metrics)
    session.add(row)
    session.flush()
    store_model_files(session, row, models_dir / name)
    return name
