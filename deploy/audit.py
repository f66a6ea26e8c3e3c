"""`make audit`: known vulnerabilities in the installed packages, through pip-audit.

Accepted issues are read from ``deploy/audit-ignore.txt`` (``ID  # reason``, a reason is
required) and passed as ``--ignore-vuln``. pip-audit looks each package up at
``pypi.org/pypi/NAME/VERSION/json``; where that lookup fails (a mirror or proxy that only
serves ``pypi.org/pypi/NAME/json``) the package would be skipped silently, so this falls
back to the project page, whose advisories cover the newest release: a package at that
release is audited from it, and one that is older is named as not audited.

Exit status 1 when a vulnerability that is not accepted is found.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

IGNORE_FILE = Path(__file__).with_name("audit-ignore.txt")
NOT_LOOKED_UP = "not found on PyPI"


def accepted() -> dict[str, str]:
    entries: dict[str, str] = {}
    for number, line in enumerate(IGNORE_FILE.read_text().splitlines(), start=1):
        vuln, _, reason = line.partition("#")
        if vuln.strip():
            if not reason.strip():
                sys.exit(f"{IGNORE_FILE}:{number}: {vuln.strip()} needs '# reason'")
            entries[vuln.strip()] = reason.strip()
    return entries


def project_page(name: str) -> tuple[str, list[dict]]:
    """The newest version of ``name`` on PyPI and the advisories that affect it."""
    url = f"https://pypi.org/pypi/{name}/json"
    with urllib.request.urlopen(url, timeout=60) as response:
        data = json.load(response)
    return data["info"]["version"], data.get("vulnerabilities") or []


def main() -> int:
    ignore = accepted()
    pip_audit = Path(sys.executable).with_name("pip-audit")
    command = [str(pip_audit), "--skip-editable", "--progress-spinner", "off", "--format", "json"]
    for vuln in ignore:
        command += ["--ignore-vuln", vuln]
    run = subprocess.run(command, capture_output=True, text=True, check=False)
    if run.returncode not in (0, 1) or not run.stdout.strip():
        print(run.stderr, file=sys.stderr)
        return run.returncode or 1
    report = json.loads(run.stdout)
    findings = [
        (dep["name"], dep["version"], v["id"], ", ".join(v.get("fix_versions") or []) or "none")
        for dep in report["dependencies"]
        for v in dep.get("vulns", [])
    ]
    skipped = {
        dep["name"]: dep["skip_reason"].rsplit("(", 1)[-1].rstrip(")")
        for dep in report["dependencies"]
        if NOT_LOOKED_UP in dep.get("skip_reason", "")
    }
    with ThreadPoolExecutor(4) as pool:
        pages = dict(zip(skipped, pool.map(project_page, skipped), strict=True))
    unaudited = []
    for name, version in sorted(skipped.items()):
        newest, advisories = pages[name]
        if newest != version:
            unaudited.append(f"{name} {version} (newest {newest})")
            continue
        for advisory in advisories:
            ids = {advisory["id"], *advisory.get("aliases", [])}
            if not advisory.get("withdrawn") and not ids & set(ignore):
                fixed = ", ".join(advisory.get("fixed_in") or []) or "none"
                findings.append((name, version, advisory["id"], fixed))
    looked_up = sum(1 for dep in report["dependencies"] if not dep.get("skip_reason"))
    audited = looked_up + len(skipped) - len(unaudited)
    print(f"audit: {audited} package(s) audited, {len(ignore)} accepted issue(s) ignored")
    if unaudited:
        print(
            "audit: no advisories reachable for these older releases, not audited: "
            + "; ".join(unaudited)
        )
    for name, version, vuln, fixed in findings:
        print(f"VULNERABLE {name} {version}: {vuln} (fixed in {fixed})")
    if findings:
        print(f"audit: upgrade, or accept with a reason in {IGNORE_FILE}", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
