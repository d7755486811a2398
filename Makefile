# The project's one task runner. `make run` serves the forum, `make test` runs the suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# First-party plugins (plugins/<name>/) are separate distributions, installed beside the core.
PLUGINS := $(wildcard plugins/*/pyproject.toml)
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml $(PLUGINS) | cksum | cut -d' ' -f1)
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install run test bench lint format clean

$(STAMP): pyproject.toml $(PLUGINS)
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "community needs Python 3.11 or newer: set PYTHON=python3.11"; exit 2; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || \
		{ rm -rf $(VENV); echo "could not create a virtualenv; on Debian: apt-get install python3-venv"; exit 2; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]" $(foreach p,$(PLUGINS),-e $(dir $(p)))
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/community init
	$(BIN)/community serve --host $(HOST) --port $(PORT)

# In parallel, one pytest-xdist worker a CPU, each on a database of its own; a test file runs
# on one worker. For a single test: $(BIN)/python -m pytest tests/test_x.py (serial).
test: install
	$(BIN)/python -m pytest -n auto --dist loadfile

# Load benchmarks against PostgreSQL + Redis (see bench/load.py; needs wrk: apt-get install wrk).
bench: install
	@command -v wrk >/dev/null || { echo "make bench needs wrk: apt-get install wrk"; exit 2; }
	$(BIN)/python bench/load.py $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
