# Targets named in the README. Everything installs on first use; every stage says what
# it is doing. The stack's state lives in .stack/ (see .env.example for ports).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON   ?= python3
VENV     := .venv
DBT_VENV := .venv-dbt
PY       := $(VENV)/bin/python
STACK    := $(PY) -m kafka_elt.stack
PYTEST_ARGS ?=

.PHONY: help install install-browser up down status logs demo test test-distributed test-unit lint format bench bench-freshness bench-idle bench-connect bench-volume bench-scaling clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

install: $(VENV)/.installed $(DBT_VENV)/.installed ## Install system packages, both venvs and the Kafka jars
	@scripts/install-system-packages.sh
	@$(PY) -c 'from kafka_elt.stack import kafka; from kafka_elt.stack.config import StackConfig; kafka.install(StackConfig.load())'

install-browser: ## Install Debian's Chromium for the UI test
	@WITH_BROWSER=1 scripts/install-system-packages.sh

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt
	@echo "install: Airflow venv in $(VENV) (about a minute) ..."
	@$(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/pip install -q -r requirements.txt -r requirements-dev.txt -c constraints.txt
	@# plugins/ on sys.path, as Airflow has it, so `import kafka_elt` works in tools and tests.
	@echo "$(CURDIR)/plugins" > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/kafka_elt_plugins.pth"
	@touch $@

$(DBT_VENV)/.installed: requirements-dbt.txt constraints-dbt.txt
	@echo "install: dbt venv in $(DBT_VENV) ..."
	@$(PYTHON) -m venv $(DBT_VENV)
	@$(DBT_VENV)/bin/pip install -q -r requirements-dbt.txt -c constraints-dbt.txt
	@touch $@

up: install ## Start supervisord, then Kafka, PostgreSQL, ClickHouse and Airflow on 127.0.0.1, in order
	@$(STACK) up

down: ## Stop every service through supervisord, wait for them, then stop supervisord
	@$(STACK) down

status: ## Show supervisord and each service: state, pid, memory, uptime, restarts, log
	@$(STACK) status

logs: ## Tail every service's log and supervisord's (make logs S=kafka for one)
	@$(STACK) logs $(S)

demo: up ## Produce sample data, wait for the event-driven pipeline, print a summary
	@$(PY) -m kafka_elt.demo

test: install install-browser ## Start what the tests need and run the whole suite (but the distributed faults)
	@$(STACK) up
	@$(PY) -m pytest -m "not distributed" $(PYTEST_ARGS)

# Its own state folder (inside .stack/, so `make clean` removes it too) and ports by
# default, so it runs beside the light stack: override
# DIST_STACK_DIR / the *_PORT variables in the shell if these are taken.
DIST_STACK_DIR ?= .stack/distributed
# Its topic registry: include/topics.yaml plus one manual-only topic for bench-scaling
# (written by bench/scaling.py; Airflow's processes read it via KAFKA_ELT_TOPICS_FILE).
DIST_TOPICS_FILE := $(abspath $(DIST_STACK_DIR))/topics.yaml
DIST_ENV := STACK_PROFILE=distributed STACK_DIR=$(DIST_STACK_DIR) KAFKA_ELT_TOPICS_FILE=$(DIST_TOPICS_FILE) \
	KAFKA_PORT=$${DIST_KAFKA_PORT:-29092} KAFKA_CONTROLLER_PORT=$${DIST_KAFKA_CONTROLLER_PORT:-29093} \
	KAFKA_2_PORT=$${DIST_KAFKA_2_PORT:-29094} KAFKA_3_PORT=$${DIST_KAFKA_3_PORT:-29095} \
	KAFKA_2_CONTROLLER_PORT=$${DIST_KAFKA_2_CONTROLLER_PORT:-29096} KAFKA_3_CONTROLLER_PORT=$${DIST_KAFKA_3_CONTROLLER_PORT:-29097} \
	REDIS_PORT=$${DIST_REDIS_PORT:-26380} POSTGRES_PORT=$${DIST_POSTGRES_PORT:-25433} \
	CLICKHOUSE_HTTP_PORT=$${DIST_CLICKHOUSE_HTTP_PORT:-28123} AIRFLOW_PORT=$${DIST_AIRFLOW_PORT:-28080} \
	KAFKA_HEAP=$${DIST_KAFKA_HEAP:-384m}

$(DIST_TOPICS_FILE): include/topics.yaml bench/scaling.py $(VENV)/.installed
	@mkdir -p $(@D)
	@$(PY) bench/scaling.py --write-registry $@

test-distributed: install $(DIST_TOPICS_FILE) ## Start the distributed profile beside the light one, run the fault tests (~15 min), stop it
	@$(DIST_ENV) $(STACK) up
	@$(DIST_ENV) $(PY) -m pytest -m distributed tests/distributed $(PYTEST_ARGS); rc=$$?; \
		$(DIST_ENV) $(STACK) down; exit $$rc

test-unit: $(VENV)/.installed ## Unit tests only (no services)
	@$(PY) -m pytest -m "not integration and not browser" $(PYTEST_ARGS)

lint: $(VENV)/.installed ## ruff (check with a complexity limit, format), mypy and sqlfluff
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/mypy
	@$(VENV)/bin/sqlfluff lint include/sql
	@# dbt/.sqlfluff sets the jinja templater, which sqlfluff reads only from the working folder.
	@cd dbt && ../$(VENV)/bin/sqlfluff lint models

format: $(VENV)/.installed ## Apply ruff's formatting and fixes
	@$(VENV)/bin/ruff format .
	@$(VENV)/bin/ruff check --fix .

bench: up ## Ingestion benchmark: 1M candle messages into both databases
	@$(PY) bench/ingest_bench.py

bench-freshness: up ## Event-to-mart latency: 500 msg/s per topic for 10 min (ARGS="--rate 100 --duration 120")
	@$(PY) bench/freshness.py $(ARGS)

bench-idle: up ## What the stack costs with nothing arriving: CPU per service over 10 min, runs started
	@$(PY) bench/idle.py $(ARGS)

bench-connect: up ## This project vs Kafka Connect + Debezium JDBC upsert sink, same 1M candles (ARGS="--messages 100000")
	@$(PY) bench/connect_bench.py $(ARGS)

bench-volume: up ## A year through the real path: 14.2M messages from Kafka to agreeing marts, then two incremental passes (ARGS="--visits 200000 --candle-minutes 20000")
	@$(PY) bench/volume.py $(ARGS)

bench-scaling: install $(DIST_TOPICS_FILE) ## Ingestion through Airflow's Celery workers on the distributed profile, 3/6/12 partitions (ARGS="--messages 60000 --partitions 3")
	@$(DIST_ENV) $(STACK) up
	@$(DIST_ENV) $(PY) bench/scaling.py $(ARGS); rc=$$?; \
		echo "bench-scaling: the distributed profile is still up; stop it with:"; \
		echo "  $(DIST_ENV) $(STACK) down"; exit $$rc

clean: down ## Stop the stack and delete its state (data, logs, secrets)
	rm -rf .stack
