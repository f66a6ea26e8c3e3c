# One command each for a newcomer on a fresh machine:
#   make demo   set up .venv, train the demo model if there is none, classify demo/inbox
#   make test   set up .venv, check the local services, lint, type-check, run every test
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CENR_HOME ?= .cenr
export CENR_HOME
DEMO_COLUMNS := --text-column StudyTitle --text-column AimsGoals --text-column Background \
	--text-column StudyDesign --text-column Partners --label-column Level --id-column "Protocol ID"

.PHONY: setup demo check test lint audit lock services bench pictures clean

# Every version pinned and every file's hash checked (requirements-dev.lock, from
# `make lock`), then the project itself, editable, without resolving again.
$(STAMP): pyproject.toml requirements-dev.lock requirements-data.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements-data.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/cenr db upgrade  # an existing .cenr from an older checkout gets the new tables
	@if [ ! -d "$(CENR_HOME)/models/demo" ]; then \
		echo "training the demo model on demo/protocols.csv (illustrative data, about a minute)"; \
		$(BIN)/cenr train demo/protocols.csv $(DEMO_COLUMNS) --name demo; \
	fi
	$(BIN)/cenr run demo/inbox --out $(CENR_HOME)/exports/demo --model demo

services:
	bash deploy/dev-services.sh

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports  # the layering contracts of pyproject.toml

# The quick inner loop (under two minutes): lint, types, import contracts, and the tests
# that need no trained model, service, browser or process of their own.
check: lint
	$(BIN)/pytest -m quick

# Pin the dependencies again after a change to pyproject.toml (needs PyPI).
lock: setup
	bash deploy/lock.sh

# Known vulnerabilities in the installed packages (pip-audit); accepted ones, each with
# its reason, are listed in deploy/audit-ignore.txt.
audit: setup
	$(BIN)/python deploy/audit.py

test: setup services lint audit
	$(BIN)/pytest

bench: setup
	$(BIN)/python bench/default_speed.py  # the default model's tokens/s against the one before
	$(BIN)/python bench/regimes.py  # full, small, long: against TF-IDF + SVM (about an hour)
	@[ -d "$(CENR_HOME)/models/demo" ] || $(MAKE) demo
	$(BIN)/python bench/service_throughput.py
	$(BIN)/python bench/workbook_export.py
	$(BIN)/python bench/backlog.py  # 6,000 long protocols, embedded and distributed (--docs N)

# README's pictures (docs/pictures/), from the demo model's exports in a throwaway
# CENR_HOME: LibreOffice renders the workbook, headless Chromium the protocol pages.
pictures: setup
	$(BIN)/python docs/pictures.py $(DEMO_COLUMNS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
