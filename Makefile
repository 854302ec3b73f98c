# Two commands on a fresh machine: `make run` and `make test`. Both create .venv as needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test bench lint fmt typecheck clean example-events help

help:
	@echo "make run    - the daemon on embedded defaults (SQLite, example personas and events, local Terraform)"
	@echo "make test   - the whole test suite"
	@echo "make lint   - ruff, mypy --strict, import layering"
	@echo "make fmt    - format with ruff"
	@echo "make bench  - benchmarks in bench/"

$(STAMP): pyproject.toml setup.py controller/adapters/_event_scan.c controller/ingest/_segments.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

$(VENV)/.bench-installed: $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@

run: $(STAMP)
	$(BIN)/fleetctl --config controller.yaml daemon

test: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check controller tests bench
	$(BIN)/ruff format --check controller tests bench
	$(BIN)/mypy controller

typecheck: $(STAMP)
	$(BIN)/mypy controller

fmt: $(STAMP)
	$(BIN)/ruff format controller tests bench
	$(BIN)/ruff check --fix controller tests bench

bench: $(VENV)/.bench-installed
	@ls bench/*.py >/dev/null 2>&1 && for f in bench/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done || echo "no benchmarks yet"

# Rebuild the example replay from the NASA trace (needs ../shared/datasets beside the checkout).
example-events: $(STAMP)
	$(BIN)/fleetctl demo-events --trace ../shared/datasets/nasa-http-1995-per-minute.csv \
	  --out controller/examples/nasa-replay.ndjson.gz --sample 1 --shift 11424d \
	  --window 1995-07-25T00:00-04:00/1995-07-28T13:33-04:00 \
	  --window 1995-08-01T00:00-04:00/1995-08-01T14:52-04:00 \
	  --window 1995-08-03T04:36-04:00/1995-08-04T00:00-04:00

clean:
	rm -rf $(VENV) .fleet .pytest_cache .mypy_cache .ruff_cache
