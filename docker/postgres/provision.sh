#!/usr/bin/env bash
# Run by the postgres-init service on every `docker compose up`, as the superuser over the
# network: roles, databases, schemas and grants of the warehouse and of Airflow's metadata.
# Idempotent; role passwords are reset from .env each time, so changing one there and
# running `docker compose up` again is enough. Mirrors kafka_elt.stack.postgres.provision.
set -euo pipefail

: "${AIRFLOW_METADATA_DB:?}" "${WAREHOUSE_DB:?}" \
  "${AIRFLOW_DB_USER:?}" "${AIRFLOW_DB_PASSWORD:?}" \
  "${LOADER_USER:?}" "${LOADER_PASSWORD:?}" \
  "${DBT_USER:?}" "${DBT_PASSWORD:?}"

# Names and passwords reach SQL only through psql variables quoted with :'x' (literal) and
# format('%I' / '%L'), never by pasting them into the script text.
psql --no-psqlrc --quiet --set ON_ERROR_STOP=1 <<'SQL'
\getenv airflow_db AIRFLOW_METADATA_DB
\getenv warehouse_db WAREHOUSE_DB
\getenv airflow_user AIRFLOW_DB_USER
\getenv airflow_password AIRFLOW_DB_PASSWORD
\getenv loader_user LOADER_USER
\getenv loader_password LOADER_PASSWORD
\getenv dbt_user DBT_USER
\getenv dbt_password DBT_PASSWORD

select format('create role %I', role_name)
from (values (:'airflow_user'), (:'loader_user'), (:'dbt_user')) as r (role_name)
where not exists (select 1 from pg_roles where rolname = role_name)
\gexec

select format('alter role %I with login password %L', role_name, role_password)
from (
    values
        (:'airflow_user', :'airflow_password'),
        (:'loader_user', :'loader_password'),
        (:'dbt_user', :'dbt_password')
) as r (role_name, role_password)
\gexec

select format('create database %I owner %I', :'airflow_db', :'airflow_user')
where not exists (select 1 from pg_database where datname = :'airflow_db')
\gexec

select format('create database %I', :'warehouse_db')
where not exists (select 1 from pg_database where datname = :'warehouse_db')
\gexec

-- Each role reaches only its own database. CREATE on the warehouse lets the loader run
-- `create schema if not exists raw` (PostgreSQL checks that privilege even when the schema
-- exists) and dbt create the schemas it is configured for; TEMPORARY is for the temp tables
-- of dbt's incremental models.
select format('revoke all on database %I from public', :'airflow_db')
\gexec
select format('revoke all on database %I from public', :'warehouse_db')
\gexec
select format('grant connect, create, temporary on database %I to %I, %I',
              :'warehouse_db', :'loader_user', :'dbt_user')
\gexec

\connect :warehouse_db

-- raw: written by the loader only; dbt reads it.
select format('create schema if not exists raw authorization %I', :'loader_user')
\gexec
select format('grant usage on schema raw to %I', :'dbt_user')
\gexec
select format('grant select on all tables in schema raw to %I', :'dbt_user')
\gexec
select format('alter default privileges for role %I in schema raw grant select on tables to %I',
              :'loader_user', :'dbt_user')
\gexec

-- analytics: built by dbt; the loader (Airflow's warehouse connection) reads the marts.
select format('create schema if not exists analytics authorization %I', :'dbt_user')
\gexec
select format('grant usage on schema analytics to %I', :'loader_user')
\gexec
select format('grant select on all tables in schema analytics to %I', :'loader_user')
\gexec
select format('alter default privileges for role %I in schema analytics grant select on tables to %I',
              :'dbt_user', :'loader_user')
\gexec

-- monitoring: pipeline bookkeeping written by Airflow, readable by dbt.
select format('create schema if not exists monitoring authorization %I', :'loader_user')
\gexec
select format('grant usage on schema monitoring to %I', :'dbt_user')
\gexec
select format('alter default privileges for role %I in schema monitoring grant select on tables to %I',
              :'loader_user', :'dbt_user')
\gexec

revoke create on schema public from public;
SQL

echo "postgres-init: databases ${AIRFLOW_METADATA_DB} and ${WAREHOUSE_DB}, roles ${AIRFLOW_DB_USER}, ${LOADER_USER} and ${DBT_USER} ready"
