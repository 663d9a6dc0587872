# The two commands a new user types: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Where `make run` listens and keeps its data (`make run VIGIL_LISTEN_ADDRESS=127.0.0.1:9191`).
VIGIL_LISTEN_ADDRESS ?= 127.0.0.1:9090
VIGIL_DATA_DIR ?= ./data

.PHONY: run test lint fmt typecheck unit bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/vigil server --web.listen-address=$(VIGIL_LISTEN_ADDRESS) --storage.tsdb.path=$(VIGIL_DATA_DIR)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -n auto

test: lint typecheck unit

fmt: $(STAMP)
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

bench: $(STAMP)
	$(BIN)/python bench/exposition.py
	$(BIN)/python bench/agent.py
	$(BIN)/python bench/tsdb.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info
