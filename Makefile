# kpiwatch: `make run` sets up and runs the demo; `make test` sets up and runs the checks.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The tests run a real Prometheus and promtool: Debian's prometheus package.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint typecheck clean tools stress

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

tools:
	@command -v promtool >/dev/null && command -v prometheus >/dev/null || { \
	  echo "installing Debian's prometheus package (promtool, prometheus)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends prometheus; }
	@# The package starts a system Prometheus on :9090; the tests start their own.
	@-$(SUDO) systemctl disable --now prometheus >/dev/null 2>&1 || true

run: $(STAMP)
	$(BIN)/kpiwatch refresh
	$(BIN)/kpiwatch status
	$(BIN)/kpiwatch serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) tools lint typecheck
	$(BIN)/pytest -q

# The load and crash tests at full length (60 s of 8 scraping clients).
stress: $(STAMP) tools
	KPIWATCH_STRESS_SECONDS=60 $(BIN)/pytest -q tests/test_concurrency.py tests/test_adversarial.py

clean:
	rm -rf $(VENV) kpiwatch.duckdb
