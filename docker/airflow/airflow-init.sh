#!/usr/bin/env bash
# One-shot setup run by the airflow-init service before any other Airflow component starts:
# check the secrets compose pastes unescaped into URLs and JSON, migrate the metadata
# database, and write the admin password for SimpleAuthManager.
set -euo pipefail

# AIRFLOW_DB_PASSWORD goes into the SQLAlchemy URL, LOADER_PASSWORD and CLICKHOUSE_PASSWORD
# into the AIRFLOW_CONN_* JSON (and the latter into ClickHouse's users XML), and, in the
# distributed layout only (docker-compose.distributed.yaml), REDIS_PASSWORD into the Celery
# broker URL. A quote, `@`, `/` or `%` there would surface later as a baffling parse or
# login error, so stop here.
bad=0
for name in AIRFLOW_DB_PASSWORD LOADER_PASSWORD CLICKHOUSE_PASSWORD ${REDIS_PASSWORD+REDIS_PASSWORD}; do
    value="${!name:-}"
    if [[ ! "${value}" =~ ^[A-Za-z0-9._~-]+$ ]]; then
        echo "airflow-init: ${name} in .env must be non-empty and use only letters, digits and - _ . ~" >&2
        bad=1
    fi
done
if (( bad )); then
    echo "airflow-init: make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'" >&2
    echo "airflow-init: PostgreSQL role passwords follow .env on the next 'docker compose up';" >&2
    echo "airflow-init: the ClickHouse user's is rewritten whenever its container starts." >&2
    exit 1
fi

echo "airflow-init: migrating the metadata database"
airflow db migrate

# Written on every run so that a changed AIRFLOW_ADMIN_PASSWORD takes effect on the next
# `up`; SimpleAuthManager reads this file and generates nothing when the user is in it.
python - <<'PY'
import json
import os
from pathlib import Path

path = Path(os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
user = os.environ["AIRFLOW_ADMIN_USER"]
tmp = path.with_name(path.name + ".tmp")
fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as f:
    json.dump({user: os.environ["AIRFLOW_ADMIN_PASSWORD"]}, f)
    f.write("\n")
tmp.replace(path)
print(f"airflow-init: password of Airflow user '{user}' written to {path}")
PY
