# Rasid: `make run` starts the embedded stack, `make test` runs every test.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
# The pipeline benchmark's database: sqlite, or postgresql (with the local PostgreSQL and Redis).
BENCH_DATABASE ?= sqlite

.PHONY: install run test lint bench clean

$(BIN)/rasid: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/rasid

run: install
	$(BIN)/rasid run

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -n 2 --dist loadgroup

bench: install
	$(BIN)/rasid bench classify
	$(BIN)/python -m benchmarks.pipeline --database $(BENCH_DATABASE)

clean:
	rm -rf $(VENV) var
