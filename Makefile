# Quickstart: `make run` and `make test` work on a fresh machine (they create .venv).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# With FIML_TELEGRAM_TOKEN set: the Telegram bot; otherwise the terminal chat.
run: $(STAMP)
	@if [ -n "$$FIML_TELEGRAM_TOKEN" ]; then $(BIN)/fiml-bot run; else $(BIN)/fiml-bot chat; fi

# The whole suite on TEST_WORKERS pytest-xdist workers (its tests mostly wait on git, databases and child
# processes, so more workers than cores pays; docs/benchmarks.md). One tier: `.venv/bin/python -m pytest -m unit`.
# Bytecode is cached for the run and its child processes (in the ignored __pycache__ folders), even where
# PYTHONDONTWRITEBYTECODE is set, as on the CI machine: the suite starts hundreds of fiml-bot and fiml-cms
# processes, each of which would compile ~150 modules again, and each worker would rewrite every test
# module's asserts again.
TEST_WORKERS ?= 4
test: $(STAMP)
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal

# The habits CI keeps: ruff's lint and format (pyproject.toml [tool.ruff]), mypy ([tool.mypy]) and the
# architecture's import contracts ([tool.importlinter]).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

# Benchmarks run as modules from the repository root (bench/ and testing/ import as packages).
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	-$(BIN)/python -m bench.validate
	-$(BIN)/python -m bench.store
	-$(BIN)/python -m bench.archive
	-$(BIN)/python -m bench.tutor
	-$(BIN)/python -m bench.bot
	-$(BIN)/python -m bench.doctor
	-$(BIN)/python -m bench.scale
	-$(BIN)/python -m bench.telegram_budget
	-$(BIN)/python -m bench.canary_watch
	-$(BIN)/python -m bench.budget_drill

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
