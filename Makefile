# Two commands on a fresh machine: `make run` and `make test`.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
# The tests marked "postgres" (database constraints and concurrency) run a
# second time on this server; pytest-django creates and drops its own
# test_postgres database there.
TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/postgres

# Fixed values for `manage.py check` in `make test`, so the check judges the
# project as production would (DEBUG off) without needing real keys.
CHECK_ENV := DEBUG=false SECRET_KEY=make-test-check-only-not-a-secret \
	WEBHOOK_ENCRYPTION_KEYS=Y2hlY2stb25seS1rZXktbm90LWEtc2VjcmV0LTAwMDA=

.PHONY: run test install install-test format lint clean bench bench-pages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-run

install: $(VENV)/.installed-run

install-test: $(VENV)/.installed-test

# Starts the web server and a django-q2 worker on the embedded default
# (SQLite, ORM broker). DEBUG, and with it the development receiver, is on
# unless the environment says otherwise.
run: export DEBUG ?= true
# The demo webhook sends to the development receiver on this machine.
run: export WEBHOOK_ALLOW_PRIVATE_DESTINATIONS ?= true
run: export PORT := $(PORT)
run: export PATH := $(abspath $(BIN)):$(PATH)
run: install
	python manage.py migrate --noinput
	python manage.py demo
	@echo
	@echo "External Events is starting on http://127.0.0.1:$(PORT)/ (admin: http://127.0.0.1:$(PORT)/admin/). Ctrl-C stops it."
	@echo
	honcho start --port $(PORT)

test: install-test
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(CHECK_ENV) $(BIN)/python manage.py check
	$(CHECK_ENV) $(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest
	DATABASE_URL=$(TEST_POSTGRES_URL) $(BIN)/pytest -m postgres

# The admin benchmark; not part of `make test`, as it takes minutes. It
# recreates the database seen_events_bench on the PostgreSQL server below,
# migrates it, seeds a million deliveries with two attempts each, and times
# the audit pages (bench/admin_pages.py). `make bench-pages` times them again
# on the database a previous `make bench` left.
BENCH_SERVER_URL ?= postgres://postgres@127.0.0.1:5432/postgres
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/seen_events_bench
BENCH_DELIVERIES ?= 1000000
BENCH_ENV := DATABASE_URL=$(BENCH_DATABASE_URL) $(CHECK_ENV)

bench: install
	psql "$(BENCH_SERVER_URL)" -q -c "DROP DATABASE IF EXISTS seen_events_bench" \
		-c "CREATE DATABASE seen_events_bench"
	$(BENCH_ENV) $(BIN)/python manage.py migrate --noinput -v 0
	$(BENCH_ENV) $(BIN)/python manage.py seeddeliveries \
		--deliveries $(BENCH_DELIVERIES) --attempts-per-delivery 2
	$(BENCH_ENV) $(BIN)/python bench/admin_pages.py

bench-pages: install
	$(BENCH_ENV) $(BIN)/python bench/admin_pages.py

format: install-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV)
