# Rasid: `make run` starts the embedded stack, `make test` runs every test.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test lint bench compose-check clean

$(BIN)/rasid: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/rasid

run: install
	$(BIN)/rasid run

test: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -n 2 --dist loadgroup

bench: install
	$(BIN)/rasid bench classify
	$(BIN)/python -m tests.bench.pipeline

clean:
	rm -rf $(VENV) var
