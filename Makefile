# Every target sets up what it needs: only python3 on PATH is assumed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench migrate clean chaos

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

install: $(STAMP)

migrate: $(STAMP)
	$(BIN)/python -m integration db upgrade

run: migrate
	$(BIN)/python -m integration run

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Fault injection at the issue's sizes (1,000-event kill -9 run, 10,000 generated requests, ...);
# `make test` runs the same tests at small sizes. See docs/reliability.md.
chaos: $(STAMP)
	CHAOS=1 $(BIN)/python -m pytest tests/reliability -s -ra $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check integration tests bench migrations
	$(BIN)/ruff format --check integration tests bench migrations

bench: $(STAMP)
	$(BIN)/python bench/bench_rules.py
	$(BIN)/python bench/bench_pipeline.py
	$(BIN)/python bench/bench_scan.py
	$(BIN)/python bench/bench_classify.py
	$(BIN)/python bench/bench_ingest.py --deliveries 1000 --runs 1
	$(BIN)/python bench/bench_worker.py --tickets 500
	$(BIN)/python bench/bench_e2e.py --events 50

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis
