# The two commands a newcomer needs: `make run` and `make test`. Everything else is a step.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHROMIUM ?= /usr/bin/chromium
PYTEST_WORKERS ?= auto

.PHONY: run test setup services db demo pdffonts chromium pgbouncer gettext messages lint check audit pytest bench bench-db dataset wrk screenshots clean help dedupe-bench replica replica-stop backup loadtest

help:
	@echo "make run    - set everything up and serve the CRM on http://127.0.0.1:8000 (web, worker, beat)"
	@echo "make test   - set everything up and run lint, checks, the dependency audit and the whole test suite"
	@echo "make audit  - check the pinned dependencies for known vulnerabilities (pip-audit)"
	@echo "make screenshots - write a screenshot of every main page to docs/screenshots/"
	@echo "make bench  - generate the large dataset and check the performance budgets"
	@echo "make dataset SCALE=small|large - (re)generate the benchmark dataset in crm_bench"
	@echo "make dedupe-bench [SIZES='1000 10000'] - duplicate matcher precision/recall, bench/dedupe_results.md"
	@echo "make loadtest [SCALE=small] - mixed users (Locust) at 25/50/100 users, 2 and 4 gunicorn workers"
	@echo "make backup - a pg_dump of the database into var/backups/ (docs/backup.md: restore and point-in-time recovery)"
	@echo "make replica / replica-stop - a private PostgreSQL primary + streaming replica on ports 55432/55433"

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { echo "Cannot create a virtualenv: install python3-venv (apt-get install python3-venv)"; exit 1; }
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	@touch $@

setup: $(STAMP) services db

services:
	@scripts/services.sh

db: $(STAMP) services
	@$(BIN)/python manage.py ensure_database
	@$(BIN)/python manage.py migrate --no-input -v 0

demo: db
	@$(BIN)/python manage.py seed_demo

run: setup pdffonts demo
	@echo "Serving the CRM on http://127.0.0.1:8000 with Celery workers (default, bulk, integrations queues) and beat (a process that dies is restarted). Ctrl-C stops all."
	@mkdir -p var
	$(BIN)/python scripts/supervise.py -f Procfile

# Quote PDFs (deals.quotes) are drawn in DejaVu Sans (Latin, Cyrillic) with Droid Sans Fallback
# for Chinese; without them a quote's Russian or Chinese text would come out as boxes.
pdffonts:
	@test -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf -a -f /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing the fonts quote PDFs are drawn in (apt-get)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core fonts-droid-fallback >/dev/null; \
	  else echo "Quote PDFs need fonts: sudo apt-get install fonts-dejavu-core fonts-droid-fallback"; fi; }

chromium:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Chromium for the browser tests (apt-get)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "Browser tests need Chromium at $(CHROMIUM): sudo apt-get install chromium (or set CHROMIUM=/path)"; exit 1; fi; }

# PgBouncer: the suite runs a subset through it in transaction mode (tests/pgbouncer/).
pgbouncer:
	@command -v pgbouncer >/dev/null || test -x /usr/sbin/pgbouncer || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing PgBouncer for the pooling test (apt-get)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null; \
	  else echo "The pooling test needs PgBouncer: sudo apt-get install pgbouncer"; exit 1; fi; }

# GNU gettext: the translation guard (tests/test_translations.py) extracts the marked strings
# with it. The compiled catalogues (locale/*/LC_MESSAGES/django.mo) are committed, so serving
# the CRM does not need it.
gettext:
	@command -v xgettext >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing GNU gettext for the translation checks (apt-get)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext >/dev/null; \
	  else echo "The translation checks need GNU gettext: sudo apt-get install gettext"; exit 1; fi; }

# After adding or changing a translatable string: refresh the Russian and Chinese catalogues,
# translate the new entries (scripts/po_tool.py dump / apply), then compile.
messages: $(STAMP) gettext
	$(BIN)/python manage.py makemessages -l ru -l zh_Hans --no-obsolete --ignore=.venv --ignore=bench --ignore=tests --ignore="*/tests/*" --ignore=scripts --ignore=staticfiles
	$(BIN)/python scripts/po_tool.py status
	$(BIN)/python manage.py compilemessages --ignore=.venv

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

check: $(STAMP)
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run

# Tests enqueue to and cache in Redis databases of their own, so a `make run` worker on the
# same machine never picks up a test's task (and runs it against the development database).
TEST_ENV := REDIS_URL=redis://127.0.0.1:6379/12 CACHE_URL=redis://127.0.0.1:6379/11 CACHE_KEY_PREFIX=crm-test

# Known vulnerabilities in the pinned dependencies (pip-audit). Fails on one; on a machine that
# cannot reach PyPI's vulnerability data it says NOT AUDITED and fails only in CI or with
# AUDIT_REQUIRED=1 (scripts/audit.py).
audit: $(STAMP)
	$(BIN)/python scripts/audit.py

pytest: $(STAMP)
	$(TEST_ENV) $(BIN)/pytest -n $(PYTEST_WORKERS)

test: setup demo chromium pdffonts pgbouncer gettext lint check audit pytest

# The demo has Chinese company names; without a CJK font Chromium draws them as boxes.
screenshots: setup chromium
	@fc-list 2>/dev/null | grep -qi 'wenquanyi\|noto sans cjk' || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing a CJK font for the screenshots (apt-get)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null; \
	  else echo "Chinese names show as boxes without a CJK font: sudo apt-get install fonts-wqy-microhei"; fi; }
	$(BIN)/python tests/browser/gallery.py

# The benchmark's own database: generate_dataset --reset empties the users table.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/crm_bench
BENCH_ENV := DATABASE_URL=$(BENCH_DATABASE_URL)
dataset: SCALE ?= small
bench: SCALE ?= large

bench-db: $(STAMP) services
	@$(BENCH_ENV) $(BIN)/python manage.py ensure_database
	@$(BENCH_ENV) $(BIN)/python manage.py migrate --no-input -v 0

dataset: bench-db
	$(BENCH_ENV) nice -n 10 $(BIN)/python manage.py generate_dataset --scale $(SCALE) --reset

wrk:
	@command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing wrk for the throughput benchmark (apt-get)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
	  else echo "The throughput benchmark needs wrk: sudo apt-get install wrk (it is skipped until then)"; fi; }

bench: bench-db wrk
	$(BENCH_ENV) $(BIN)/python bench/run.py --scale $(SCALE)

# Mixed users (Locust) against gunicorn with 2 and 4 workers at 25/50/100 users, an import
# running; writes bench/loadtest_results.md (README "Performance").
loadtest: SCALE ?= large
loadtest: bench-db
	$(BENCH_ENV) $(BIN)/python bench/loadtest.py --scale $(SCALE)

# The duplicate matcher on generated people, in a scratch database of its own (rows are added
# and removed); writes bench/dedupe_results.md and bench/dedupe_pr_curve.svg.
DEDUPE_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/crm_dedupe
SIZES ?= 1000 10000
dedupe-bench: $(STAMP) services
	@DATABASE_URL=$(DEDUPE_DATABASE_URL) $(BIN)/python manage.py ensure_database
	@DATABASE_URL=$(DEDUPE_DATABASE_URL) $(BIN)/python manage.py migrate --no-input -v 0
	DATABASE_URL=$(DEDUPE_DATABASE_URL) nice -n 10 $(BIN)/python -m bench.dedupe_quality --originals $(SIZES) --seed 42 --write

# A dump of DATABASE_URL into var/backups/ (docs/backup.md: restore, compare, point-in-time recovery).
backup: $(STAMP)
	@mkdir -p var/backups
	@$(BIN)/python scripts/backup.py dump --out var/backups/crm-$$(date +%Y%m%d-%H%M%S).dump

# A private primary + streaming replica on loopback (docs/scaling.md, "Read replicas").
replica:
	@python3 scripts/pg_replica.py start --dir .replica

replica-stop:
	@python3 scripts/pg_replica.py stop --dir .replica

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
