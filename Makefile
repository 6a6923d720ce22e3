# The two commands of the README, and what they need. Everything runs from a project-local
# virtual environment (.venv) that the first command creates from pyproject.toml.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: sim test system-deps lint typecheck unit bench clean

# Run the simulated 72-slot cabinet, live in the terminal, syncing its journal to a Mosquitto
# broker and hospital receiver it starts in var/sim (PROFILE=fridge|transport, SPEED=60).
sim: system-deps $(STAMP)
	$(BIN)/hemotrace sim --profile $(or $(PROFILE),cabinet) --speed $(or $(SPEED),1)

# Everything CI runs: lint, format check, strict typing, the whole test suite.
test: system-deps lint typecheck unit

# The programs the tests run for real (Mosquitto, PostgreSQL), from apt when missing.
system-deps:
	bash .ci/install-system-deps

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

bench: system-deps $(STAMP)
	$(BIN)/python benchmarks/sim_speed.py
	$(BIN)/python benchmarks/journal_append.py
	$(BIN)/python benchmarks/wire_bytes.py
	$(BIN)/python benchmarks/sync_drain.py
	$(BIN)/python benchmarks/scan_to_unlock.py

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
