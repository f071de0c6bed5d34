# chainproof: `make demo` and `make test` work on a fresh machine with python3 (3.11+).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SHARED ?= ../shared

.PHONY: install demo test lint bench acceptance scan-self clean

# An editable install leaves the sources uncompiled, and with PYTHONDONTWRITEBYTECODE set (as on
# CI machines) every CLI call would compile them again: byte-compile them here (fast when current).
install: $(STAMP)
	@$(BIN)/python -m compileall -q src

# Every dependency comes from the hashed lock files; the project itself is installed editable
# with the locked build backend, so nothing unpinned is ever fetched.
$(STAMP): requirements.lock requirements-dev.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps \
		-r requirements.lock -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: install
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

bench: install
	$(BIN)/python bench/run.py

# The outside-in checks of the command-line contract, when ../shared/acceptance is present.
acceptance: install
	@if [ -d $(SHARED)/acceptance ]; then \
		CP=$(CURDIR)/$(BIN)/chainproof $(BIN)/python $(SHARED)/acceptance/check_log.py && \
		CP=$(CURDIR)/$(BIN)/chainproof $(BIN)/python $(SHARED)/acceptance/check_crash.py && \
		CP=$(CURDIR)/$(BIN)/chainproof $(BIN)/python $(SHARED)/acceptance/check_deps.py all && \
		CP=$(CURDIR)/$(BIN)/chainproof $(BIN)/python $(SHARED)/acceptance/check_custody.py && \
		CP=$(CURDIR)/$(BIN)/chainproof $(BIN)/python $(SHARED)/acceptance/check_server.py; \
	else echo "no $(SHARED)/acceptance here; skipping"; fi

# We practise what the guard preaches: our own environment and lock files pass it.
scan-self: install
	$(BIN)/chainproof deps scan $(VENV) requirements.lock requirements-dev.lock --fail-on high

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
