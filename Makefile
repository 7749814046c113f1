# Kolokol: the two commands are `make dev` and `make test`.
#
#   make dev     .venv (when missing or pyproject.toml changed), migrate, seed, run everything
#                (PORT=8080 for another API port)
#   make test    .venv, then ruff, mypy and pytest
#   make lint    ruff check, ruff format --check, mypy
#   make fmt     ruff format and ruff check --fix
#   make bench   every benchmark in bench/ (slow: minutes each; see bench/README.md)
#   make clean   caches and build output (keeps .venv and the .kolokol/ data folder)
#   make distclean   also .venv and .kolokol/ (embedded database data)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CODE := shared services kolokol alembic
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help dev test lint fmt bench clean distclean install

help:
	@sed -n '3,10p' Makefile | sed 's/^# \{0,1\}//'

$(BIN)/python:
	@echo "creating $(VENV) with $$($(PYTHON) --version)"
	@$(PYTHON) -m venv $(VENV)

# Reinstalled when pyproject.toml is newer than the stamp (a dependency changed).
$(STAMP): pyproject.toml | $(BIN)/python
	@echo "installing kolokol and its dev tools into $(VENV) (first time takes a minute)"
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# `make dev PORT=8080` serves the API on another port.
dev: $(STAMP)
	@exec $(BIN)/kolokol dev $(if $(PORT),--port $(PORT))

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(CODE)

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(STAMP)
	@set -e; for script in bench/[a-z]*.py; do \
		name=$$(basename "$$script" .py); echo "== bench.$$name"; \
		$(BIN)/python -m "bench.$$name"; \
	done

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist *.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) .kolokol
