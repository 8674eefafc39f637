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

test: install-test ## Lint, type-check and run the whole test suite
	$(BIN)/ruff check hub workers hubclient examples tests
	$(BIN)/mypy
	$(BIN)/mypy --strict examples/faq_bot.py
	$(BIN)/pytest

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
