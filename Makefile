# Every target documented with `## text` shows up in `make help`.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# Stamps record that the installs are current; editing pyproject.toml (new dependency) redoes them.
INSTALLED := $(VENV)/.installed
INSTALLED_TEST := $(VENV)/.installed-test

.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
.PHONY: help run install install-test test lint fmt clean

help: ## Show this list of targets
	@echo "Usage: make TARGET   (PYTHON=$(PYTHON), VENV=$(VENV))"
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) \
		| awk 'BEGIN { FS = ":.*## " } { printf "  %-14s %s\n", $$1, $$2 }'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(PIP) install -q -e .
	@touch $@

$(INSTALLED_TEST): pyproject.toml | $(BIN)/python
	$(PIP) install -q -e '.[test]'
	@touch $@ $(INSTALLED)

install: $(INSTALLED) ## Create .venv and install the hub into it

install-test: $(INSTALLED_TEST) ## Create .venv and install the hub with its test tools

run: $(INSTALLED) ## Start the hub with an embedded database and a demo account
	$(BIN)/hub demo

# The suite in two runs, each printing pytest's summary: everything but the process-level fault scenarios
# spread over one pytest-xdist worker per core (tests keep apart by database name and channel prefix), then
# the reliability scenarios and the soak smoke on their own, since they time out processes they kill.
# Both always run; the target fails when either does (pytest's 5, nothing collected, included).
SERIAL_TESTS := tests/reliability tests/soak

test: install-test ## Lint, type-check and run the whole test suite (e2e and forwarding on both backends)
	$(BIN)/ruff check hub workers hubclient examples tests
	$(BIN)/mypy
	$(BIN)/mypy --strict examples/faq_bot.py
	status=0; \
	$(BIN)/pytest -n auto --durations=25 $(SERIAL_TESTS:%=--ignore=%) || status=$$?; \
	$(BIN)/pytest $(SERIAL_TESTS) || status=$$?; \
	exit $$status

lint: install-test ## Check style, formatting and types without changing files
	$(BIN)/ruff check hub workers hubclient examples tests
	$(BIN)/ruff format --check hub workers hubclient examples tests
	$(BIN)/mypy
	$(BIN)/mypy --strict examples/faq_bot.py

fmt: install-test ## Format the code and apply ruff's safe fixes
	$(BIN)/ruff format hub workers hubclient examples tests
	$(BIN)/ruff check --fix hub workers hubclient examples tests

clean: ## Remove .venv, caches and build output (keeps var/, the local database)
	rm -rf $(VENV) build dist test-artifacts .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -path ./var -prune -o \( -name __pycache__ -o -name '*.egg-info' \) -type d -prune \
		-exec rm -rf {} +
