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

test: $(STAMP)
	$(BIN)/python -m pytest

# The habits CI keeps: ruff's lint and format (pyproject.toml [tool.ruff]) and mypy ([tool.mypy]).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	-$(BIN)/python bench/validate.py
	-$(BIN)/python bench/store.py
	-$(BIN)/python bench/archive.py
	-$(BIN)/python bench/tutor.py
	-$(BIN)/python bench/bot.py
	-$(BIN)/python bench/doctor.py
	-$(BIN)/python bench/scale.py
	-$(BIN)/python bench/telegram_budget.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
