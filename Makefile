# The README's two commands: `make up` (run Garrison with the MyKings demo) and `make test`.
# Each sets itself up on a fresh machine: a virtualenv in .venv with Garrison installed from this checkout.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: up demo test check lint install clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Garrison needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

up: $(STAMP)
	$(BIN)/garrison up --demo

demo: $(STAMP)
	$(BIN)/garrison demo

lint: $(STAMP)
	$(BIN)/ruff check flows actions playbooks templates tests

# The house rules CI enforces before any test runs: style, types (mypy --strict), import contracts.
check: lint
	$(BIN)/mypy
	$(BIN)/lint-imports

test: check
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .mypy_cache .import_linter_cache
