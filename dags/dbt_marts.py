"""Build the dbt project in PostgreSQL and ClickHouse, scheduled on the raw-table Assets."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import AssetAny, chain, dag, task
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior, TestIndirectSelection

from kafka_elt.assets import MART_ASSETS, RAW_ASSETS

DBT_PROJECT_DIR = Path(os.environ.get("DBT_PROJECT_DIR", Path(__file__).resolve().parents[1] / "dbt"))
DBT_EXECUTABLE = os.environ.get("DBT_EXECUTABLE", "dbt")
TARGETS = ("postgres", "clickhouse")

DOC = """
### dbt_marts

Builds the dbt project in `dbt/` against **both** warehouses, one task group per target
(`postgres`, `clickhouse`), each model followed by its tests, as separate tasks.

* **Schedule**: whenever an ingestion DAG updates a raw table (any raw-table Asset), not
  on a clock. It emits the mart Assets when both targets are built, which in turn
  schedules `dashboard_benchmark`.
* **How**: astronomer-cosmos renders the graph from dbt's `target/manifest.json`
  (`LoadMode.DBT_MANIFEST`; `make up` refreshes it with `dbt parse`), so parsing this
  file never runs dbt. Tasks call dbt from its own venv (`DBT_EXECUTABLE`) as a
  subprocess, with the committed `dbt/profiles.yml`, whose values are all `env_var()`
  lookups filled from the environment (see `.stack/env`).
* Cosmos's own ClickHouse profile mapping expects a `generic` connection on the native
  port; this stack serves ClickHouse over HTTP, so the profile comes from `profiles.yml`.
* A failed model fails its task; re-running is safe (every model is idempotent).
"""


def _target_group(target: str) -> DbtTaskGroup:
    return DbtTaskGroup(
        group_id=target,
        project_config=ProjectConfig(
            dbt_project_path=DBT_PROJECT_DIR,
            manifest_path=DBT_PROJECT_DIR / "target" / "manifest.json",
            install_dbt_deps=False,
        ),
        profile_config=ProfileConfig(
            profile_name="kafka_elt",
            target_name=target,
            profiles_yml_filepath=DBT_PROJECT_DIR / "profiles.yml",
        ),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.LOCAL,
            invocation_mode=InvocationMode.SUBPROCESS,
            dbt_executable_path=DBT_EXECUTABLE,
            # A model's test task runs only the tests of that model; a test that also
            # reads another model (relationships) runs once both exist (see below).
            test_indirect_selection=TestIndirectSelection.CAUTIOUS,
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            test_behavior=TestBehavior.AFTER_EACH,
            should_detach_multiple_parents_tests=True,
            invocation_mode=InvocationMode.SUBPROCESS,
            dbt_executable_path=DBT_EXECUTABLE,
            # Mart Assets are emitted once, below, under stable names.
            emit_datasets=False,
        ),
        operator_args={"install_deps": False, "retries": 1},
    )


@dag(
    dag_id="dbt_marts",
    schedule=AssetAny(*RAW_ASSETS),
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["dbt", "marts", "postgres", "clickhouse"],
    doc_md=DOC,
    default_args={"owner": "data-platform", "retries": 1, "retry_delay": timedelta(seconds=30)},
)
def dbt_marts():
    @task(outlets=MART_ASSETS)
    def publish_marts() -> list[str]:
        """Both targets built and tested: announce the marts (schedules the dashboard benchmark)."""
        return [asset.name for asset in MART_ASSETS]

    chain([_target_group(target) for target in TARGETS], publish_marts())


dbt_marts()
