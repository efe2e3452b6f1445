# The same commands for a newcomer, a developer and CI. Each target installs what it needs first;
# the stamps make a second run skip installs that are already current.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
PYTEST_ARGS ?=
# Test processes: one per core (pytest-xdist); each has its own dev nodes and database schemas.
TEST_WORKERS ?= auto

.PHONY: install run test flake-check check slither artifacts lock bench bench-chain bench-gas bench-index bench-api clean

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
	@$(BIN)/pytest -n $(TEST_WORKERS) --durations=25 $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; \
	exit $$rc

# The tests most prone to flake: processes killed at random moments, chain reorganizations, the
# whole system under signals, and the API served for real (uvicorn, `creditreg serve`, `keys`). By
# node id, so that a renamed test makes the check fail (pytest: "not found") instead of vanish.
FLAKE_TESTS ?= tests/indexer/test_crash.py tests/indexer/test_reorg.py tests/system/test_system.py tests/project/test_fixtures.py \
	tests/system/test_write_kills.py tests/api/test_write_races.py \
	tests/system/test_restart.py tests/indexer/test_failover.py tests/chain/test_grouping.py \
	tests/api/test_api.py::test_demo_plays_against_the_served_api \
	tests/api/test_admission.py::test_uvicorn_answers_before_the_body_arrives \
	tests/api/test_admin_key.py::test_serve_runs_from_the_api_secrets_file_alone \
	tests/api/test_keys.py::test_a_key_revoked_at_run_time_is_refused_at_the_next_request \
	tests/api/test_keys.py::test_revoking_what_is_not_there_fails
RUNS ?= 20

## Run FLAKE_TESTS RUNS times in a row (20 by default), stopping at the first failing run. CI=true
## makes the PostgreSQL half fail rather than skip without a server, so every run covers both
## databases; Hypothesis keeps its default profile (CI=true would derandomize it), so each run
## tries new examples. The crash test prints its seed, shown with a failure.
flake-check: install
	@for run in $$(seq 1 $(RUNS)); do \
		echo "flake-check: run $$run of $(RUNS)"; \
		CI=true $(BIN)/pytest -x -q --hypothesis-profile=default $(FLAKE_TESTS) $(PYTEST_ARGS) \
			|| { echo "flake-check: run $$run of $(RUNS) failed" >&2; exit 1; }; \
	done; \
	echo "flake-check: $(RUNS) runs in a row passed"

## Format, lint and type checks, and the contracts' static analysis.
check: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python scripts/slither_check.py

## Slither on contracts/: fails on a high or medium finding not accepted beside the code.
slither: install
	$(BIN)/python scripts/slither_check.py

## Recompile contracts/ into registry/artifacts (committed).
artifacts: install
	$(BIN)/creditreg compile

## Re-resolve the Python lock file from pyproject.toml.
lock: $(PY_STAMP)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 -c requirements.lock \
		-o requirements-runtime.lock

## Benchmarks: they print their figures and write bench/results/*.json.
bench: bench-chain bench-gas bench-index bench-api

bench-chain: install
	$(BIN)/python bench/chain.py

## Gas per operation against its floor, alone and amortized in multicall batches.
bench-gas: install
	$(BIN)/python bench/gas.py

## Indexer replay speed and memory (SQLite, PostgreSQL) beside the raw fetch-and-decode rate.
bench-index: install
	$(BIN)/python bench/indexer.py

## The API under load (checks and writes at 1 to 64 clients) beside the node's raw rate.
bench-api: install
	$(BIN)/python bench/api.py

clean:
	rm -rf $(VENV) node_modules .creditreg .mypy_cache .ruff_cache .pytest_cache
