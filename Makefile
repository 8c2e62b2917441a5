# Case Ledger. Every target uses the project's own .venv; `make install` creates it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install up down status logs test test-scale test-unit lint bench lock schemas psql clean demo rebuild rebuild-check chaos \
	calendar prometheus screenshots

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python >= 3.11 is required"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	@rm -f $(VENV)/.installed-*
	@touch $@

up: install
	$(PY) -m infra.stack up

down:
	@if [ -x $(PY) ]; then $(PY) -m infra.stack down; fi

status: install
	$(PY) -m infra.stack status

logs: install
	$(PY) -m infra.stack logs

test: install
	bash infra/install-prometheus.sh
	bash infra/install-chromium.sh
	$(PY) -m pytest -m "not scale" $(PYTEST_ARGS)

# Several brokers and group members: each file resizes a stack of its own (minutes each).
test-scale: install
	$(PY) -m pytest -m scale tests/integration/test_two_brokers.py $(PYTEST_ARGS)
	$(PY) -m pytest -m scale tests/integration/test_two_members.py $(PYTEST_ARGS)
	$(PY) -m pytest -m scale tests/integration/test_group_leader.py $(PYTEST_ARGS)
	$(PY) -m pytest -m scale tests/integration/test_live_topic.py $(PYTEST_ARGS)

# The README's console screenshots (docs/console-*.png), taken by the browser tests on a stack of their own.
screenshots: install
	bash infra/install-chromium.sh
	CONSOLE_SCREENSHOTS=1 $(PY) -m pytest tests/integration/test_console_browser.py $(PYTEST_ARGS)

test-unit: install
	bash infra/install-prometheus.sh
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy events services infra bench tests demo chaos

bench: install
	$(PY) -m bench.run

# Faults injected into real processes of a stack of its own; prints lost / duplicated / stuck per fault.
chaos: install
	$(PY) -m chaos $(CHAOS_ARGS)

schemas: install
	$(PY) -m events.export_schemas

demo: install
	$(PY) -m demo $(DEMO_ARGS)

# Checks a year's official holiday schedule (holidays and make-up working days), cross-checks it with the
# holidays package and installs it for review's SLA clock; README "Each December: next year's calendar".
calendar: install
	@if [ -z "$(YEAR)" ] || [ -z "$(FILE)" ]; then \
	  echo "usage: make calendar YEAR=2027 FILE=path/to/2027.json [CALENDAR_ARGS='--check-only']"; exit 2; fi
	$(PY) -m infra.calendar --year "$(YEAR)" --file "$(FILE)" $(CALENDAR_ARGS)

# A Prometheus server with the alert rules, scraping the stack `make up` started, until Ctrl-C; prints its URL.
prometheus: install
	bash infra/install-prometheus.sh
	$(PY) -m infra.tools prometheus $(PROMETHEUS_ARGS)

rebuild: install
	$(PY) -m infra.stack rebuild

rebuild-check: install
	$(PY) -m infra.stack rebuild-check

psql: install
	@$(PY) -m infra.stack psql

# Re-resolve the full pinned set from pyproject.toml into requirements.lock.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	$(PYTHON) -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("\n".join(p["dependencies"] + p["optional-dependencies"]["dev"]))' > .lock-venv/direct.txt
	.lock-venv/bin/pip install --quiet --disable-pip-version-check -r .lock-venv/direct.txt
	.lock-venv/bin/pip freeze | sort > requirements.lock
	rm -rf .lock-venv

# Stops every stack under .run (dev, tests, benchmark), then removes their data.
clean:
	@if [ -x $(PY) ]; then $(PY) -m infra.stack down-all; fi
	rm -rf .run
