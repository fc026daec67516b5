# Airflow image for docker-compose.yaml (and docker-compose.distributed.yaml, which runs
# the same image as Celery workers): the official Airflow 3.3.2 image, the pinned
# providers from requirements.txt, dbt in a venv of its own, and the project's code.
#
#   docker compose build             # or: docker build -t kafka-elt-airflow:3.3.2 .
#   docker build --build-arg WITH_CHDB=true ...   # keep chdb in the image as well
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.11
FROM ${AIRFLOW_IMAGE}

# chdb is the embedded ClickHouse of the local (non-Docker) stack: ~180 MB plus pandas,
# pyarrow and numpy. Here the clickhouse-server container plays that part, so requirements.txt
# is installed without it unless asked for.
ARG WITH_CHDB=false

# constraints.tx[t] matches constraints.txt when the lock file exists and nothing
# otherwise, so the build works with or without it.
COPY requirements.txt requirements-dbt.txt constraints.tx[t] /tmp/kafka-elt/

USER root
# dbt's pins would pull several of Airflow's dependencies down, so it lives in its own venv
# (root-owned: tasks run dbt but cannot change it). The image sets PIP_USER=true for the
# airflow user's installs, which a venv refuses.
RUN set -eux; \
    python -m venv /opt/dbt-venv; \
    PIP_USER=false /opt/dbt-venv/bin/pip install --no-cache-dir --root-user-action=ignore \
        -r /tmp/kafka-elt/requirements-dbt.txt; \
    /opt/dbt-venv/bin/python -c "import dbt.adapters.postgres, dbt.adapters.clickhouse"; \
    install -d -o airflow -g 0 -m 0770 /opt/airflow/auth

USER airflow
RUN set -eux; \
    cd /tmp/kafka-elt; \
    if [ "${WITH_CHDB}" = "true" ]; then \
        cp requirements.txt requirements-image.txt; \
    else \
        grep -Eiv '^[[:space:]]*chdb([[:space:]]*([=<>!~;[]|$))' requirements.txt > requirements-image.txt; \
    fi; \
    if [ -f constraints.txt ]; then set -- -c constraints.txt; else set --; fi; \
    pip install --no-cache-dir -r requirements-image.txt "$@"; \
    python -c "import airflow.providers.apache.kafka, airflow.providers.celery, airflow.providers.clickhousedb, clickhouse_connect"

# Laid out as in the repository, so code that finds include/ and dbt/ relative to the
# kafka_elt package works unchanged. plugins/ is on the path for tasks and DAG files alike.
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
COPY --chown=airflow:0 include/ /opt/airflow/include/
COPY --chown=airflow:0 dbt/ /opt/airflow/dbt/
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 docker/airflow/ /opt/airflow/docker/

# dbt packages are fetched here rather than by every task run, and the manifest that the
# dbt_marts DAG renders from (Cosmos LoadMode.DBT_MANIFEST; dbt/target is git-ignored) is
# built here, fresh (a developer's target/ may be stale). `dbt parse` opens no connection,
# but profiles.yml must resolve: service names for hosts and empty passwords suffice.
RUN set -eux; \
    cd /opt/airflow/dbt; \
    rm -rf target logs; \
    if [ -f packages.yml ] || [ -f dependencies.yml ]; then \
        DBT_SEND_ANONYMOUS_USAGE_STATS=False /opt/dbt-venv/bin/dbt deps; \
    fi; \
    DBT_SEND_ANONYMOUS_USAGE_STATS=False \
    DBT_POSTGRES_HOST=postgres DBT_POSTGRES_USER=dbt DBT_POSTGRES_PASSWORD= DBT_POSTGRES_DBNAME=warehouse \
    DBT_CLICKHOUSE_HOST=clickhouse DBT_CLICKHOUSE_USER=elt DBT_CLICKHOUSE_PASSWORD= \
        /opt/dbt-venv/bin/dbt parse --project-dir . --profiles-dir .; \
    test -s target/manifest.json

ENV PYTHONPATH=/opt/airflow/plugins \
    DBT_EXECUTABLE=/opt/dbt-venv/bin/dbt \
    DBT_PROJECT_DIR=/opt/airflow/dbt \
    DBT_PROFILES_DIR=/opt/airflow/dbt \
    DBT_SEND_ANONYMOUS_USAGE_STATS=False \
    DO_NOT_TRACK=1 \
    SCARF_NO_ANALYTICS=true
