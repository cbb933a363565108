# The two commands of the README: `make demo` and `make test`. Both install what they need
# from the project's own files (uv.lock, ui/package-lock.json) and are quick the second time.

SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
PACKAGES := $(sort $(dir $(wildcard */__init__.py)))
# Our packages and the tests: every top-level folder that is a Python package.
PYTHON_PACKAGES := $(PACKAGES:/=)
UI_SOURCES := $(shell find ui/src ui/index.html ui/vite.config.ts ui/tsconfig*.json -type f 2>/dev/null)
# Debian's Chromium drives the browser tests (browser downloads are not available).
CHROMIUM := /usr/bin/chromium

.PHONY: install ui demo test lint typecheck ui-test pytest bench

$(UV):
	python3 -m pip install --user --quiet uv 2>/dev/null \
	  || python3 -m pip install --user --quiet --break-system-packages uv

.venv/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --quiet
	touch $@

ui/node_modules/.installed: ui/package.json ui/package-lock.json
	npm --prefix ui ci --no-audit --no-fund --loglevel=error
	touch $@

ui/dist/index.html: ui/node_modules/.installed $(UI_SOURCES)
	npm --prefix ui run build --silent

$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

install: .venv/.installed

ui: ui/dist/index.html

demo: install ui
	$(UV) run --frozen --no-sync vocals demo

lint: install
	$(UV) run --frozen --no-sync ruff check .
	$(UV) run --frozen --no-sync ruff format --check .

typecheck: install
	$(UV) run --frozen --no-sync mypy $(PYTHON_PACKAGES)

ui-test: ui
	npm --prefix ui test --silent

pytest: install ui $(CHROMIUM)
	$(UV) run --frozen --no-sync pytest -q

test: lint typecheck ui-test pytest

bench: install
	$(UV) run --frozen --no-sync python -m bench
