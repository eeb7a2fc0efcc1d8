# nextbest — the two commands of the quick start are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NEXTBEST_HOME ?= $(CURDIR)/var/demo
DEMO_EXPORT := $(NEXTBEST_HOME)/export
export NEXTBEST_HOME

.PHONY: demo demo-data test bench lint clean install install-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# One stamp per extras set, so `make test` after `make demo` installs the test extras.
$(VENV)/.installed-base: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed-base

install: $(VENV)/.installed-base
install-test: $(VENV)/.installed-test

demo-data: install
	rm -rf $(NEXTBEST_HOME)
	$(BIN)/nextbest init
	$(BIN)/nextbest sample-bank --out $(DEMO_EXPORT)
	$(BIN)/nextbest ingest $(DEMO_EXPORT) --mapping src/nextbest/demo/mappings/sample_bank.yaml
	$(BIN)/nextbest publish
	$(BIN)/nextbest status

demo: demo-data

test: install-test
	$(BIN)/python -m pytest -q

bench: install-test
	$(BIN)/python -m bench all --size small

lint: install-test
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var build *.egg-info
