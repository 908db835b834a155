# panro: two commands, `make run` and `make test`. Everything lives in .venv/ and .panro/ (ignored).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

export PANRO_HOME ?= $(CURDIR)
export PANRO_STATE_DIR ?= $(CURDIR)/.panro

.PHONY: install run test test-all lint lock clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv==0.13.9

# --compile-bytecode: uv writes no .pyc by default, and where PYTHONDONTWRITEBYTECODE is set (CI, the image)
# none is ever written, so every dbt, Airflow and gate process compiled its imports again (dbt 1.7 s of
# its 5 s start-up, Great Expectations 4 s).
$(STAMP): requirements.lock pyproject.toml Makefile | $(BIN)/python
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

## make run: embedded warehouse + demo scenario + simulated portal + two weeks replayed through Airflow
run: install
	$(BIN)/panro demo

## make test: the whole suite against a real PostgreSQL the tests start themselves
test: install
	$(BIN)/python -m pytest -m "not slow" -q

test-all: install
	$(BIN)/python -m pytest -q

## make bench: S and M from empty, the COPY floor, the daily run (L too: make bench BENCH_ARGS=--large)
bench: install
	$(BIN)/panro bench $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check include dags plugins tests

## regenerate requirements.lock from pyproject.toml (needs the package index)
lock: | $(BIN)/python
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(PANRO_STATE_DIR)
