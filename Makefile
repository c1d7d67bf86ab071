# Madang: `make run` serves http://127.0.0.1:8000 (SQLite + in-memory layer, no services needed);
# `make test` runs lint, the migrations check and the whole suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint ci bench bench-post bench-write bench-pages bench-layers bench-search bench-smoke messages clean

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime
	$(PY) manage.py migrate --noinput
	$(VENV)/bin/daphne -b $(HOST) -p $(PORT) project.asgi:application

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DJANGO_SETTINGS_MODULE=project.settings_test $(PY) manage.py makemigrations --check --dry-run

test: lint
	$(VENV)/bin/pytest

bench-smoke: $(VENV)/.dev
	$(PY) bench/run.py --smoke

# Every server in every shape once, then the targets' shape five times (medians), then pages.
bench: $(VENV)/.dev
	$(PY) bench/compare.py
	$(PY) bench/compare.py --servers madang,tutorial,ceiling --sizes 1000 --repeat 5 --no-many-rooms
	$(PY) bench/pages.py
	$(PY) bench/postcost.py

# A post's server CPU (validate, store, render, publish, acknowledge): medians of three runs.
bench-post: $(VENV)/.dev
	$(PY) bench/postcost.py

# The write path's parts in one process: a post alone and in a batch, each hot fragment's render.
bench-write: $(VENV)/.dev
	$(PY) bench/writepath.py

# Page, "load older", catch-up and resume-after-changes times in a room of 100,000 messages.
bench-pages: $(VENV)/.dev
	$(PY) bench/pages.py

# Search over 100,000 messages on SQLite and on PostgreSQL (BENCH_POSTGRES_URL; a database of its own).
bench-search: $(VENV)/.dev
	$(PY) bench/search.py

bench-layers: $(VENV)/.dev
	$(PY) bench/run.py

messages: $(VENV)/.dev
	$(PY) manage.py makemessages -l ko --ignore=.venv --ignore=bench --ignore=tests
	$(PY) manage.py compilemessages -l ko --ignore=.venv

ci:
	bash .ci/run

clean:
	rm -rf $(VENV) staticfiles test-db.sqlite3* .pytest_cache .ruff_cache .daphne-*.log test-artefacts
