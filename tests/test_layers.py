"""The layering (cenr -> worker -> exporters -> classifier -> schema) and the independence
of the pipeline's stages, as import-linter contracts in pyproject.toml."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = ("cenr", "worker", "exporters", "classifier", "schema")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        check=False,
    )


def test_the_packages_keep_their_contracts() -> None:
    """Every import-linter contract is kept by the code as it stands."""
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout
    assert result.stdout.count("KEPT") == 4


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        # an exporter reaching up into the worker for its data
        ("exporters/results_csv.py", "import worker.results", "Layers"),
        # the worker reading the command line's settings
        ("worker/store.py", "import cenr.cli", "Layers"),
        # one stage calling another instead of going through worker.dispatch
        ("worker/classify.py", "import worker.export", "stages do not know each other"),
        # the export stage reading reviewers' agreement instead of being read by it
        ("worker/export.py", "import worker.review.agreement", "never import the review package"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    """Adding an import that crosses a layer or joins two stages makes lint-imports fail,
    naming the contract and the import."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package)
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    target = tmp_path / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", "utf-8")
    result = _lint(tmp_path)
    assert result.returncode == 1, result.stdout
    broken = result.stdout.split("Broken contracts", 1)[1]
    assert contract in broken
    imported = line.split()[1]
    assert f"{module.removesuffix('.py').replace('/', '.')} -> {imported}" in broken
