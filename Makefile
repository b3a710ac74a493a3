# Command Center — `make run` serves the app, `make test` runs every test.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_TEST_URL := $(or $(TEST_DATABASE_URL),$(DATABASE_URL))

.PHONY: install system-deps run test test-sqlite test-postgres lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Real components the tests drive: Debian's Chromium (never a downloaded browser) and Dovecot.
SYSTEM_PACKAGES := /usr/bin/chromium:chromium /usr/sbin/dovecot:dovecot-imapd
system-deps:
	@need=""; for pair in $(SYSTEM_PACKAGES); do \
		[ -e "$${pair%%:*}" ] || need="$$need $${pair##*:}"; done; \
	if [ -n "$$need" ]; then \
		echo "== installing Debian packages:$$need"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need; \
	fi

run: install
	$(BIN)/commandcenter migrate --noinput
	$(BIN)/commandcenter seed-demo --demo-user
	$(BIN)/commandcenter serve

test: install system-deps test-sqlite test-postgres

test-sqlite: install
	env -u DATABASE_URL $(BIN)/pytest -n 2 --dist loadfile $(PYTEST_ARGS)

test-postgres: install
	@if [ -n "$(PG_TEST_URL)" ]; then \
		echo "== the same suite on PostgreSQL ($(PG_TEST_URL))"; \
		DATABASE_URL="$(PG_TEST_URL)" $(BIN)/pytest -n 2 --dist loadfile $(PYTEST_ARGS); \
	else echo "== PostgreSQL run skipped: set DATABASE_URL or TEST_DATABASE_URL"; fi

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy commandcenter bench

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var
