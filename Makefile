# Two commands on a fresh machine: `make run` and `make test`. Both create .venv as needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test bench lint fmt typecheck clean example-events help lock

help:
	@echo "make run    - the daemon on embedded defaults (SQLite, example personas and events, local Terraform)"
	@echo "make test   - the whole test suite"
	@echo "make lint   - ruff, mypy --strict, import layering"
	@echo "make fmt    - format with ruff"
	@echo "make bench  - benchmarks in bench/"
	@echo "make lock   - refresh uv.lock to the newest allowed versions (on purpose; then make test)"

# uv installs from uv.lock, the committed lock file, and nothing else: a fresh clone gets the
# versions the lock names, not last night's releases. uv itself comes from requirements-uv.txt
# (version and hashes pinned) into .tools/. `make lock` is the only thing that moves versions.
TOOLS := .tools
UV    := $(TOOLS)/bin/uv
export UV_PYTHON := $(shell command -v $(PYTHON))
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

$(UV): requirements-uv.txt
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --require-hashes --no-deps -r requirements-uv.txt
	touch $@

# `--inexact` keeps extras another target installed; a fresh machine gets only what is named.
define sync
	$(UV) sync --frozen --inexact --quiet $(1)
endef

# Running needs the runtime dependencies only.
$(VENV)/.run: $(UV) uv.lock pyproject.toml setup.py controller/adapters/_event_scan.c controller/ingest/_segments.c
	$(call sync,)
	touch $@

$(STAMP): $(UV) uv.lock pyproject.toml setup.py controller/adapters/_event_scan.c controller/ingest/_segments.c
	$(call sync,--extra test)
	touch $@

$(VENV)/.bench-installed: $(STAMP)
	$(call sync,--extra test --extra bench)
	touch $@

# Refresh the lock on purpose: newest versions allowed by pyproject.toml. Then run `make test`
# and commit uv.lock with what it changed.
lock: $(UV)
	$(UV) lock --upgrade

run: $(VENV)/.run
	$(BIN)/fleetctl --config controller.yaml daemon

test: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(UV) lock --check --quiet
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
	  --out controller/examples/nasa-replay.ndjson.gz --sample 1 --shift 11424d --event-seconds 60 \
	  --window 1995-07-25T00:00-04:00/1995-07-28T13:33-04:00 \
	  --window 1995-08-01T00:00-04:00/1995-08-01T14:52-04:00 \
	  --window 1995-08-03T04:36-04:00/1995-08-04T00:00-04:00

clean:
	rm -rf $(VENV) $(TOOLS) .fleet .pytest_cache .mypy_cache .ruff_cache .hypothesis build *.egg-info
	find controller -name '*.so' -delete
	find . -name __pycache__ -type d -not -path './.venv/*' -prune -exec rm -rf {} +
