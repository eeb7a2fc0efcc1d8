# nextbest — the two commands of the quick start are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The demo's installation (keys, stores, exports); `make demo-data` deletes and rebuilds it.
DEMO_HOME ?= $(CURDIR)/var/demo
DEMO_EXPORT := $(DEMO_HOME)/export

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

# The demo bank: 20,000 customers, 24 months, 2% data faults, through the shipped mapping.
# The credit scorecard is trained before `understand run`: its PD feeds CLV and the PD rule.
DEMO_CUSTOMERS ?= 20000
DEMO_HOST ?= 127.0.0.1
DEMO_PORT ?= 8000
# Month-end of the generated history (generation.json's end_month), for the as-of snapshot.
DEMO_AS_OF = $$($(BIN)/python -c 'import json, sys, pandas; \
	print(pandas.Period(json.load(open(sys.argv[1]))["end_month"], "M").end_time.date())' \
	$(DEMO_EXPORT)/generation.json)

demo-data demo: export NEXTBEST_HOME = $(DEMO_HOME)
demo-data: install
	rm -rf $(DEMO_HOME)
	$(BIN)/nextbest init
	$(BIN)/nextbest generate --customers $(DEMO_CUSTOMERS) --months 24 --seed 1 --faults 0.02 \
		--out $(DEMO_EXPORT)
	$(BIN)/nextbest ingest $(DEMO_EXPORT)/export --mapping src/nextbest/demo/mappings/generated_bank.yaml
	$(BIN)/nextbest model scorecard train --bank $(DEMO_EXPORT)
	$(BIN)/nextbest understand run --as-of $(DEMO_AS_OF)
	$(BIN)/nextbest decide batch
	$(BIN)/nextbest publish
	$(BIN)/nextbest status

demo: demo-data
	$(BIN)/nextbest demo-users
	@echo "API and OpenAPI docs: http://$(DEMO_HOST):$(DEMO_PORT)/api/v1/docs (Ctrl-C stops)"
	$(BIN)/nextbest serve --host $(DEMO_HOST) --port $(DEMO_PORT)

test: install-test
	$(BIN)/python -m pytest -q

# `make bench BENCH_SIZE=large` runs the 1,000,000-customer figures; BENCH_SUITE picks suites
# (comma-separated; `generate,ingest` is the generation and ingestion pair); BENCH_REPEAT=3
# runs three interleaved rounds and reports medians.
BENCH_SUITE ?= all
BENCH_SIZE ?= small
BENCH_REPEAT ?= 1
bench: install-test
	$(BIN)/python -m bench $(BENCH_SUITE) --size $(BENCH_SIZE) --repeat $(BENCH_REPEAT)

lint: install-test
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var build *.egg-info
