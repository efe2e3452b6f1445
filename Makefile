# The same commands for a newcomer, a developer and CI. Each target installs what it needs first;
# the stamps make a second run skip installs that are already current.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
PYTEST_ARGS ?=

.PHONY: install run test check slither artifacts lock bench bench-chain bench-gas clean

install: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

# package-lock.json lists anvil's binary package for every platform; the entries for platforms other
# than linux-x64 were added by hand (no integrity), because a registry mirror that carries only this
# platform's binary makes npm drop them from the lock, and then `npm ci` refuses the lock as stale.
$(NODE_STAMP): package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## Start the dev chain, deploy, index and serve the API until Ctrl-C.
run: install
	$(BIN)/creditreg up

## Run the test suite. pytest's exit code 5 (no tests collected) is a failure here, not a pass.
test: install
	@$(BIN)/pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; \
	exit $$rc

## Format, lint and type checks, and the contracts' static analysis.
check: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python scripts/slither_check.py

## Slither on contracts/: fails on a high or medium finding not accepted beside the code.
slither: install
	$(BIN)/python scripts/slither_check.py

## Recompile contracts/ into registry/chain/artifacts (committed).
artifacts: install
	$(BIN)/creditreg compile

## Re-resolve the Python lock file from pyproject.toml.
lock: $(PY_STAMP)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

## Benchmarks: they print their figures and write bench/results/*.json.
bench: bench-chain bench-gas

bench-chain: install
	$(BIN)/python bench/chain.py

## Gas per operation against its floor, alone and amortized in multicall batches.
bench-gas: install
	$(BIN)/python bench/gas.py

clean:
	rm -rf $(VENV) node_modules .creditreg .mypy_cache .ruff_cache .pytest_cache
