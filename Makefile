# kpiwatch: `make run` sets up and runs the demo; `make test` sets up and runs the checks.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# `make run` needs only the runtime; `make test` adds the test tools.
RUN_STAMP := $(VENV)/.installed-run
STAMP := $(VENV)/.installed-dev

# The tests run a real Prometheus, promtool and Alertmanager (Debian's prometheus and
# prometheus-alertmanager packages) and open the bulletin in Debian's chromium.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint typecheck clean tools stress

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e .
	touch $(RUN_STAMP)

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(RUN_STAMP) $(STAMP)

venv: $(STAMP)

tools:
	@command -v promtool >/dev/null && command -v prometheus >/dev/null || { \
	  echo "installing Debian's prometheus package (promtool, prometheus)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends prometheus; }
	@command -v amtool >/dev/null && command -v prometheus-alertmanager >/dev/null || { \
	  echo "installing Debian's prometheus-alertmanager package (amtool, alertmanager)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
	    prometheus-alertmanager; }
	@command -v chromium >/dev/null && command -v pdftotext >/dev/null && \
	  fc-list :lang=zh family | grep -q 'Noto Sans CJK' || { \
	  echo "installing Debian's chromium, fonts-noto-cjk and poppler-utils (bulletin tests)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
	    chromium fonts-noto-cjk poppler-utils; }
	@# The tests start their own Prometheus and Alertmanager on free ports; system ones are left alone.

run: $(RUN_STAMP)
	$(BIN)/kpiwatch refresh
	$(BIN)/kpiwatch status
	$(BIN)/kpiwatch units
	$(BIN)/kpiwatch serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# One worker per core; each test file stays on one worker, so its module fixtures are built once.
test: $(STAMP) tools lint typecheck
	$(BIN)/pytest -q -n auto --dist loadfile

# The load and crash tests at full length: 60 s of 8 scraping clients, over HTTP and over
# TLS, while five idle and five slow connections are held open; 50 ingests killed at random.
stress: $(STAMP) tools
	KPIWATCH_STRESS_SECONDS=60 KPIWATCH_STRESS_KILLS=50 $(BIN)/pytest -q tests/test_concurrency.py tests/test_adversarial.py

clean:
	rm -rf $(VENV) kpiwatch.duckdb
