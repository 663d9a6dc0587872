# The two commands a new user types: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run
# Where `make run` listens and keeps its data (`make run VIGIL_LISTEN_ADDRESS=127.0.0.1:9191`),
# and your own files if you have them (`make run VIGIL_CONFIG_FILE=prometheus.yml
# VIGIL_ALERTMANAGER_CONFIG_FILE=alertmanager.yml`); empty means vigil's built-in defaults.
VIGIL_LISTEN_ADDRESS ?= 127.0.0.1:9090
VIGIL_DATA_DIR ?= ./data
VIGIL_CONFIG_FILE ?=
VIGIL_ALERTMANAGER_CONFIG_FILE ?=
# The web UI's bundle, built from ui/ with the machine's Node (20+) when missing or stale.
UI_OUT := src/vigil/web/static/app.js
UI_SOURCES := $(shell find ui/src -type f 2>/dev/null) ui/build.mjs ui/index.html ui/tsconfig.json
UI_DEPS := ui/node_modules/.installed

.PHONY: run test lint fmt typecheck unit fuzz bench clean ui wheel

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# `make run` installs vigil and what it runs on; `make test` adds the test tools.
$(RUN_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUN_STAMP)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP) $(RUN_STAMP)

$(UI_DEPS): ui/package.json ui/package-lock.json
	cd ui && npm ci --no-audit --no-fund --loglevel=error
	touch $(UI_DEPS)

$(UI_OUT): $(UI_DEPS) $(UI_SOURCES)
	cd ui && npm run --silent build

ui: $(UI_OUT)

run: $(RUN_STAMP) $(UI_OUT)
	$(BIN)/vigil server --web.listen-address=$(VIGIL_LISTEN_ADDRESS) --storage.tsdb.path=$(VIGIL_DATA_DIR) \
		$(if $(VIGIL_CONFIG_FILE),--config.file=$(VIGIL_CONFIG_FILE)) \
		$(if $(VIGIL_ALERTMANAGER_CONFIG_FILE),--alertmanager.config.file=$(VIGIL_ALERTMANAGER_CONFIG_FILE))

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP) $(UI_DEPS)
	$(BIN)/mypy
	cd ui && npm run --silent check

unit: $(STAMP) $(UI_OUT)
	cd ui && npm test --silent
	$(BIN)/pytest -n auto

test: lint typecheck unit

# The property tests with 20 times the examples `make test` runs, freshly drawn each time.
fuzz: $(STAMP)
	VIGIL_FUZZ_SCALE=20 $(BIN)/pytest -n auto tests/security/test_parser_fuzz.py \
		tests/web/test_api_fuzz.py tests/exposition/test_scan.py tests/exposition/test_differential_promtool.py \
		tests/exposition/test_parsers_agree.py tests/exposition/test_scrape_prometheus.py \
		tests/promql/test_parse_errors.py

fmt: $(STAMP)
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

bench: $(STAMP)
	$(BIN)/python bench/exposition.py
	$(BIN)/python bench/agent.py
	$(BIN)/python bench/logs_agent.py
	$(BIN)/python bench/logs.py
	$(BIN)/python bench/tsdb.py
	$(MAKE) --no-print-directory ui && $(BIN)/python bench/ui.py

# A wheel with the UI built in, so pip users need no Node.
wheel: $(STAMP) $(UI_OUT)
	$(BIN)/python -m pip wheel --no-deps --wheel-dir dist .

clean:
	rm -rf $(VENV) build dist src/*.egg-info src/vigil/web/static ui/node_modules
