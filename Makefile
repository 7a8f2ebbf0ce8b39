# flexledger — the README's two commands are `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SLITHER_VENV := .venv-slither

.PHONY: setup run test lint typecheck pytest slither bench contracts contracts-check clean

setup: $(STAMP) contracts/solc/node_modules tools/devnode/node_modules

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

contracts/solc/node_modules: contracts/solc/package-lock.json
	npm ci --prefix contracts/solc --no-audit --no-fund --loglevel=error
	touch $@

tools/devnode/node_modules: tools/devnode/package-lock.json
	npm ci --prefix tools/devnode --no-audit --no-fund --loglevel=error
	touch $@

# The main job: a full market day through the REST API on the embedded chain (no services).
run: $(STAMP)
	$(BIN)/flexledger demo

test: setup lint typecheck pytest slither

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy oracle market grid flexibility

pytest: setup
	$(BIN)/pytest -q -p no:cacheprovider

slither: contracts/solc/node_modules
	bash tools/slither.sh

bench: setup
	$(BIN)/python -m benchmarks

contracts: contracts/solc/node_modules $(STAMP)
	$(BIN)/python -m contracts.build

contracts-check: contracts/solc/node_modules $(STAMP)
	$(BIN)/python -m contracts.build --check

clean:
	rm -rf var $(VENV) $(SLITHER_VENV) contracts/solc/node_modules tools/devnode/node_modules
