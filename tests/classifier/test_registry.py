"""Model versions on disk: saved atomically, loaded safely, refused when damaged."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from classifier.registry import check_name, load_version
from schema.errors import ConfigError, ModelIncompatibleError, ModelNotFoundError


def _copy(trained_home: Path, tmp_path: Path) -> Path:
    models = tmp_path / "models"
    shutil.copytree(trained_home / "models", models)
    return models


def test_a_saved_version_has_every_file_and_loads(trained_home: Path) -> None:
    """The version directory holds model, vocabulary, codebook, config and metrics."""
    version = load_version(trained_home / "models", "tiny")
    assert version.codebook.codes == ["0", "1", "2", "3", "4", "5"]
    assert len(version.config["data_fingerprint"]) == 64
    assert version.config["columns"]["label"] == "Level"
    assert "macro_f1" in version.metrics
    assert not [p for p in (trained_home / "models").iterdir() if p.name.startswith(".")]


def test_missing_version_names_the_available_ones(trained_home: Path) -> None:
    """Asking for an unknown version lists what exists."""
    with pytest.raises(ModelNotFoundError, match=r"no model named 'nope'.*available: tiny"):
        load_version(trained_home / "models", "nope")


def test_other_format_version_is_refused(trained_home: Path, tmp_path: Path) -> None:
    """A model written by an incompatible format is refused with the fix."""
    models = _copy(trained_home, tmp_path)
    config_path = models / "tiny" / "config.json"
    config = json.loads(config_path.read_text())
    config["format_version"] = 99
    config_path.write_text(json.dumps(config))
    with pytest.raises(ModelIncompatibleError, match=r"format version 99.*retrain"):
        load_version(models, "tiny")


def test_damaged_model_file_is_refused(trained_home: Path, tmp_path: Path) -> None:
    """A truncated .keras archive gives ModelIncompatibleError, not a Keras traceback."""
    models = _copy(trained_home, tmp_path)
    (models / "tiny" / "model.keras").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ModelIncompatibleError, match="cannot load"):
        load_version(models, "tiny")


def test_incomplete_directory_is_refused(trained_home: Path, tmp_path: Path) -> None:
    """A version missing a file names the missing file."""
    models = _copy(trained_home, tmp_path)
    (models / "tiny" / "vocabulary.json").unlink()
    with pytest.raises(ModelIncompatibleError, match=r"missing vocabulary\.json"):
        load_version(models, "tiny")


@pytest.mark.parametrize("name", ["../evil", "a/b", "", ".hidden", "x" * 101])
def test_unsafe_names_are_refused(name: str) -> None:
    """Version names cannot escape the models folder."""
    with pytest.raises(ConfigError):
        check_name(name)


def test_a_fresh_process_loads_a_saved_version_with_only_the_registry_imported(
    trained_home: Path,
) -> None:
    """`cenr run` in a new process imports the registry, not the model builder: every
    custom layer a saved model uses must be registered by that import alone."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from classifier.registry import load_version\n"
        "assert 'classifier.model' not in sys.modules\n"
        "version = load_version(Path(sys.argv[1]), 'tiny')\n"
        "print(version.predictor().model.get_layer('pieces').length)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(trained_home / "models")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "256"
