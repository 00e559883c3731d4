# stoad: `make demo` shows the gateway working; `make test` runs every test (CI runs exactly that).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
CACHE  := .cache

# Each mk/*.mk adds the set-up targets its tests need to TEST_DEPS (Kafka jars, oidc-provider, ...).
TEST_DEPS :=
include $(wildcard mk/*.mk)

.PHONY: venv test unit lint typecheck demo run check clean
venv: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]' --config-settings editable_mode=compat
	touch $@

# Unit tests run under trial (the design card's runner), in random order; the integration tests
# (tests/*_integration*.py: real processes) under pytest, for pytest-randomly and class fixtures.
UNIT_TESTS := $(shell ls tests/test_*.py | grep -v _integration | sed 's|/|.|; s|\.py$$||')

test: venv lint typecheck $(TEST_DEPS)
	$(BIN)/trial --random=$$(date +%s) $(UNIT_TESTS)
	$(BIN)/python -m pytest -p randomly -q -m integration tests

unit: venv
	$(BIN)/trial --random=$$(date +%s) $(UNIT_TESTS)

lint: venv
	$(BIN)/ruff check stoad tests bench twisted contrib

typecheck: venv
	$(BIN)/mypy stoad contrib/deb/build_deb.py

demo: venv
	$(BIN)/python -m stoad.dev.demo

run: venv
	$(BIN)/python -m stoad.dev.demo --foreground

check: venv
	$(BIN)/stoad check-config etc/stoad/stoad.ini

clean:
	rm -rf $(VENV) $(CACHE) dist build _trial_temp* .pytest_cache .mypy_cache
