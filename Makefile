# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv on first use.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format bench lock clean browser

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ppg demo

# Two pytest workers (pytest-xdist), one test file each at a time: module fixtures stay in one process.
# Much of the suite waits on servers it starts, so two workers beat one even on 2 cores.
TEST_WORKERS ?= 2
test: $(STAMP) browser
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=25 $(PYTEST_ARGS)

# Debian's Chromium for the browser tests (Playwright drives the system browser; its own download does
# not work offline). Installed once with apt-get, as root or through passwordless sudo.
browser:
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium for the browser tests (apt-get)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO="sudo -n"; fi; \
	  { $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; } \
	  || echo "warning: chromium could not be installed; browser tests skip (or fail with PPG_REQUIRE_BROWSER=1)"; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python benchmarks/simulator.py
	$(BIN)/python benchmarks/baselines.py
	$(BIN)/python benchmarks/noise_floor.py
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/lake_size.py
	$(BIN)/python benchmarks/lake_growth.py
	$(BIN)/python benchmarks/registration.py
	$(BIN)/python benchmarks/dashboard.py
	$(BIN)/python benchmarks/mtl_costs.py
	$(BIN)/python benchmarks/mtl.py --quick
	$(BIN)/python benchmarks/tune.py --quick

# Re-pin the whole stack after a dependency change in pyproject.toml.
lock: $(STAMP)
	@{ sed -n '1,/^# fastapi/p' constraints.txt; \
	   $(BIN)/python -m pip freeze --exclude-editable | grep -v -E '^(torch|ppg-mtl)=='; \
	   echo "torch==2.13.0"; } > constraints.txt.new && mv constraints.txt.new constraints.txt

clean:
	rm -rf $(VENV) .ppg .pytest_cache .ruff_cache
