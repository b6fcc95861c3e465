# connect-sim: `make run` serves everything, `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8700
DB ?= .connect-sim/sim.db
WORKERS ?= 1

.PHONY: venv run test lint format bench browser node go clientjs launcher postgres clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

run: venv
	$(BIN)/connect-sim serve --host $(HOST) --port $(PORT) --db $(DB) --workers $(WORKERS)

browser:
	@bash scripts/install-chromium.sh

go:
	@bash scripts/install-go.sh

node:
	@bash scripts/install-node.sh

# SMART's JavaScript client (npm fhirclient, pinned by its lock file) for tests/test_clientjs_launch.py.
CLIENTJS := tests/clientjs/node_modules/.installed
$(CLIENTJS): tests/clientjs/package-lock.json
	@bash scripts/install-node.sh
	cd tests/clientjs && npm ci --no-audit --no-fund --omit=optional --loglevel=error
	touch $(CLIENTJS)

clientjs: $(CLIENTJS)

# smart-launcher-v2's backend (bench/launcher), for bench/bench_tokens.py --launcher.
LAUNCHER := bench/launcher/node_modules/.installed
$(LAUNCHER): bench/launcher/package-lock.json
	@bash scripts/install-launcher.sh
	touch $(LAUNCHER)

launcher: $(LAUNCHER)

postgres:
	@bash scripts/install-postgres.sh install

# The suite on SQLite and, beside it, on a throwaway PostgreSQL cluster (scripts/run-suites.sh).
test: venv browser node go clientjs postgres
	@bash scripts/run-suites.sh $(BIN)/python

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Every bench, with budgets short enough for a few minutes in all; each prints a table and
# one JSON line. Run a bench by hand (see its docstring) for longer, steadier figures.
BENCH_ARGS_bench_api := --requests 1000 --seconds 1
BENCH_ARGS_bench_clock := --runs 1
BENCH_ARGS_bench_connections := --connections 50 --days 3
BENCH_ARGS_bench_flow := --runs 1
BENCH_ARGS_bench_portals := --requests 500 --seconds 1
BENCH_ARGS_bench_serve := --seconds 6
BENCH_ARGS_bench_tokens := --seconds 2 --codes 100 --refreshes 1000 --launcher --floor
BENCH_ARGS_bench_transport := --calls 1000 --rounds 6
BENCH_ARGS_bench_webhooks := --events 300 --seconds 5
BENCH_ARGS_bench_workspaces := --calls 500

bench: venv launcher
	@for f in bench/bench_*.py; do \
		name=$$(basename $$f .py); \
		case $$name in \
			bench_api) args="$(BENCH_ARGS_bench_api)";; \
			bench_clock) args="$(BENCH_ARGS_bench_clock)";; \
			bench_connections) args="$(BENCH_ARGS_bench_connections)";; \
			bench_flow) args="$(BENCH_ARGS_bench_flow)";; \
			bench_portals) args="$(BENCH_ARGS_bench_portals)";; \
			bench_serve) args="$(BENCH_ARGS_bench_serve)";; \
			bench_tokens) args="$(BENCH_ARGS_bench_tokens)";; \
			bench_transport) args="$(BENCH_ARGS_bench_transport)";; \
			bench_webhooks) args="$(BENCH_ARGS_bench_webhooks)";; \
			bench_workspaces) args="$(BENCH_ARGS_bench_workspaces)";; \
			*) args="";; \
		esac; \
		echo "== $$f $$args"; $(BIN)/python $$f $$args || exit 1; \
	done

clean:
	rm -rf $(VENV) .connect-sim build *.egg-info
