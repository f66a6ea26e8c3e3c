"""`make audit` (deploy/audit.py): findings fail it, accepted ones need a reason, and a
package pip-audit could not look up is audited from its project page or named."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import ROOT

ADVISORY = {"id": "PYSEC-0000-1", "aliases": ["CVE-0000-1"], "fixed_in": ["2.0"]}


def _audit() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit", ROOT / "deploy" / "audit.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ignore: str) -> ModuleType:
    audit = _audit()
    report = {"dependencies": [
        {"name": "fine", "version": "1.0", "vulns": []},
        {"name": "lib", "version": "1.0", "skip_reason": "Dependency not found on PyPI: lib (1.0)"},
        {"name": "old", "version": "0.9", "skip_reason": "Dependency not found on PyPI: old (0.9)"},
    ]}  # fmt: skip

    def run(command: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        assert "--skip-editable" in command
        return subprocess.CompletedProcess(command, 0, json.dumps(report), "")

    pages = {"lib": ("1.0", [ADVISORY]), "old": ("1.2", [])}
    monkeypatch.setattr(audit.subprocess, "run", run)
    monkeypatch.setattr(audit, "project_page", pages.__getitem__)
    monkeypatch.setattr(audit, "IGNORE_FILE", tmp_path / "ignore.txt")
    (tmp_path / "ignore.txt").write_text(ignore)
    return audit


def test_a_finding_fails_and_an_old_release_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A package pip-audit skipped is audited from its project page and a finding there fails the
    audit, while a release older than the page's newest is named as not audited."""
    assert _fake(monkeypatch, tmp_path, "# nothing accepted\n").main() == 1
    out = capsys.readouterr().out
    assert "VULNERABLE lib 1.0: PYSEC-0000-1 (fixed in 2.0)" in out
    assert "not audited: old 0.9 (newest 1.2)" in out
    assert "2 package(s) audited" in out


def test_accepted_issues_need_a_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An accepted advisory with a reason silences its finding, and one listed without a reason
    stops the audit."""
    assert (
        _fake(monkeypatch, tmp_path, "CVE-0000-1  # only in a module we never import\n").main() == 0
    )
    assert "VULNERABLE" not in capsys.readouterr().out
    with pytest.raises(SystemExit, match="needs '# reason'"):
        _fake(monkeypatch, tmp_path, "CVE-0000-1\n").main()


def test_the_test_command_runs_the_audit() -> None:
    """`make test` runs the audit, and the real list of accepted advisories parses."""
    makefile = (ROOT / "Makefile").read_text()
    assert "\ntest: setup services lint audit\n" in makefile
    assert _audit().accepted() is not None  # the real list parses
