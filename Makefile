# Command Center — `make run` serves the app, `make test` runs every test.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_TEST_URL := $(or $(TEST_DATABASE_URL),$(DATABASE_URL))

.PHONY: install system-deps bench-deps run test test-sqlite test-postgres lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Real components the tests drive: Debian's Chromium (never a downloaded browser), Dovecot and
# Postfix (the tests start instances of their own; the system's are never used).
TEST_PACKAGES := /usr/bin/chromium:chromium /usr/sbin/dovecot:dovecot-imapd /usr/sbin/postfix:postfix
# What `make bench` drives: Debian's wrk (the tracking section's load generator) and sisimai
# (the classifier section's reference).
BENCH_PACKAGES := /usr/bin/wrk:wrk /usr/share/perl5/Sisimai.pm:libsisimai-perl

# $(call apt-install,FILE:PACKAGE ...): install each package whose FILE is missing. Postfix is
# preseeded "No configuration", so installing it never starts a system instance on port 25.
# Where apt-get cannot run (no root, no network), say so and go on: the tests that need a
# missing package skip or fail with a message naming it.
define apt-install
	@need=""; for pair in $(1); do \
		[ -e "$${pair%%:*}" ] || need="$$need $${pair##*:}"; done; \
	if [ -n "$$need" ]; then \
		echo "== installing Debian packages:$$need"; \
		case "$$need " in *" postfix "*) \
			echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections;; \
		esac; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need; } \
			|| echo "== could not install$$need (apt-get needs root and a Debian mirror)"; \
	fi
endef

system-deps:
	$(call apt-install,$(TEST_PACKAGES))

bench-deps:
	$(call apt-install,$(BENCH_PACKAGES))

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

bench: install bench-deps
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var
