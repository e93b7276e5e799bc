# Kodama — developer entry points. `make test` works on a bare Debian machine (root or sudo):
# it installs Debian packages, Python deps (in .venv), npm deps, and builds the test control plane.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export KUBECACHEDIR := $(CURDIR)/.testenv/kube-cache
PYTEST_ARGS ?=

.PHONY: help dev system-deps lint unit test test-cluster test-editors vscode demo bench testenv-up testenv-down clean

help:
	@echo "make demo   - a whole session lifecycle on the local test control plane"
	@echo "make test   - install everything needed, lint, run all tests"
	@echo "make lint   - ruff + mypy (Python), tsc + eslint (extension)"
	@echo "make bench  - benchmarks (not part of make test)"

$(BIN)/.stamp: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

dev: $(BIN)/.stamp

system-deps:
	bash scripts/system-deps.sh

lint: dev
	$(BIN)/ruff check kodama lsp tests bench
	$(BIN)/ruff format --check kodama lsp
	$(BIN)/mypy
	@if [ -d vscode-extension/node_modules ]; then cd vscode-extension && npm run -s lint && npx tsc --noEmit -p .; fi

unit: dev
	$(BIN)/pytest -q tests/unit $(PYTEST_ARGS)

testenv-up: dev
	PYTHON=$(CURDIR)/$(BIN)/python tests/testenv/up

testenv-down:
	tests/testenv/down

test: system-deps dev lint unit testenv-up test-cluster vscode

test-cluster: dev
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/pytest -q -m 'not editors' tests --ignore=tests/unit $(PYTEST_ARGS)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/pytest -q -m editors tests $(PYTEST_ARGS)

vscode: dev
	cd vscode-extension && npm ci --no-audit --no-fund && npm run compile && npm run lint && npm test && npm run package
	PATH=$(CURDIR)/$(BIN):$$PATH KODAMA_LSP=$(CURDIR)/$(BIN)/kodama-lsp KUBECONFIG_PATH=$(CURDIR)/.testenv/kubeconfig \
		bash vscode-extension/scripts/e2e.sh

demo: system-deps dev testenv-up
	PATH=$(CURDIR)/$(BIN):$$PATH bash scripts/demo.sh

bench: dev testenv-up
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python bench/run.py

clean:
	-tests/testenv/down
	rm -rf $(VENV) .testenv artifacts
