# Rasid: `make run` starts the embedded stack, `make test` runs every test, `make faults` the fault suite.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
# The pipeline benchmark's database: sqlite, or postgresql (with the local PostgreSQL and Redis).
BENCH_DATABASE ?= sqlite
# Where the fault suite keeps each scenario's folder and process logs (emptied at the start of a run).
FAULTS_TMP ?= /tmp/rasid-faults

# Rasid's own packages, compiled to bytecode at install: an editable install leaves that to the first
# import, which never writes it where PYTHONDONTWRITEBYTECODE is set (as in many shells and images),
# so every command compiled them again (rasid classify: 0.16 s of CPU to start, 0.12 s with them).
PACKAGES := shared ingest_service classifier_service alert_service
# The classifier's compiled taxonomy and model are kept in the user's cache (~/.cache/rasid) at
# install, as on a first run: otherwise the first command or worker start of a new install builds
# them (rasid classify over the 1,150 labeled articles: 6.6G instructions on a first run, 4.2G after).

.PHONY: install run test faults lint bench clean
# A recipe that fails leaves no target behind: an install whose check failed (the classifier not
# built) is made again by the next `make install`, not taken for done.
.DELETE_ON_ERROR:

$(BIN)/rasid: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -e ".[dev]"
	$(BIN)/python -m compileall -q $(PACKAGES)
	$(BIN)/rasid classify --jsonl /dev/null
	touch $@

install: $(BIN)/rasid

run: install
	$(BIN)/rasid run

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -n 2 --dist loadgroup

# One scenario at a time: each runs a whole stack of worker processes.
faults: install
	$(BIN)/pytest -m faults tests/faults --basetemp=$(FAULTS_TMP)

bench: install
	$(BIN)/rasid bench classify
	$(BIN)/python -m benchmarks.pipeline --database $(BENCH_DATABASE)

clean:
	rm -rf $(VENV) var
