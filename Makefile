# connect-sim: `make run` serves everything, `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8700
DB ?= .connect-sim/sim.db

.PHONY: venv run test lint format bench browser node go clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

run: venv
	$(BIN)/connect-sim serve --host $(HOST) --port $(PORT) --db $(DB)

browser:
	@bash scripts/install-chromium.sh

go:
	@bash scripts/install-go.sh

node:
	@bash scripts/install-node.sh

test: venv browser node go
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: venv
	@for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) .connect-sim build *.egg-info
