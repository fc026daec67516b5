"""Build the dbt project in PostgreSQL and ClickHouse, scheduled on the raw-table Assets."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import AssetAny, TaskGroup, dag, get_current_context, task

from kafka_elt.assets import MART_ASSETS, RAW_ASSETS
from kafka_elt.transform.manifest import load_models
from kafka_elt.transform.models import DbtModelOperator

DBT_PROJECT_DIR = Path(os.environ.get("DBT_PROJECT_DIR", Path(__file__).resolve().parents[1] / "dbt"))
DBT_EXECUTABLE = os.environ.get("DBT_EXECUTABLE", "dbt")
DBT_RAW_SCHEMA = os.environ.get("DBT_RAW_SCHEMA", "raw")
TARGETS = ("postgres", "clickhouse")

DOC = """
### dbt_marts

Builds the dbt project in `dbt/` against **both** warehouses at the same time: one
`dbt build` process per target (`postgres`, `clickhouse`), and one task per model that
shows how that model and its tests ended.

* **Schedule**: whenever an ingestion DAG loaded new rows (any raw-table Asset), not on
  a clock. Events that arrive while a run is active wait and start **one** more run, so
  a stream of loads never queues a pile of dbt runs. It emits the mart Assets when both
  targets are built, which schedules `dashboard_benchmark`.
* **What it builds**: only what the changed raw tables feed (`dbt build --select
  source:kafka.<table>+`, from the Asset events that triggered the run), plus the dead
  letters. A manual run builds everything.
* **Tasks**: `<target>.build` runs dbt from its own venv (`DBT_EXECUTABLE`) as one
  process with dbt's threads, incremental parsing kept per target in
  `dbt/target/<target>/`, and logs a line per model and test. `<target>.<model>` tasks
  start in the triggerer, not on a worker: they wait for the build and end as their
  model and its tests ended (failed: the log names the failing test and dbt's message;
  skipped: not selected this run, or dbt skipped it after an upstream failure).
* **When it fails**: read `<target>.build`'s log (or the failed model's), fix the model
  or the data, then clear `<target>.build` with its downstream tasks: every model is
  idempotent, so building again is safe. Model tasks are not retried on their own:
  their outcome is the build's.
* The graph comes from dbt's `target/manifest.json` (`make up` refreshes it with
  `dbt parse`), so parsing this file never runs dbt.
"""


def _changed_raw_assets(context) -> list[str]:
    """Names of the raw-table Assets whose events triggered this run (empty: manual run)."""
    names = []
    for key in context.get("triggering_asset_events") or {}:
        names.append(getattr(key, "name", None) or str(key))
    return names


def _target_group(target: str, models) -> tuple[object, list]:
    with TaskGroup(group_id=target, tooltip=f"dbt build --target {target}, one task per model") as group:

        @task(
            task_id="build",
            retries=1,
            retry_delay=timedelta(seconds=30),
            execution_timeout=timedelta(hours=2),
            doc_md=f"`dbt build --target {target}` over what the triggering raw tables feed.",
        )
        def build() -> dict:
            from airflow.sdk.exceptions import AirflowException

            from kafka_elt.transform.build import RESULTS_XCOM_KEY, run_build, selection_for

            context = get_current_context()
            select = selection_for(target, DBT_RAW_SCHEMA, _changed_raw_assets(context))
            result = run_build(target, select, dbt_executable=DBT_EXECUTABLE, project_dir=DBT_PROJECT_DIR)
            context["ti"].xcom_push(key=RESULTS_XCOM_KEY, value=result.to_dict())
            if not result.ok:
                failed = ", ".join(result.failed_nodes) or f"dbt exited with {result.returncode}"
                raise AirflowException(
                    f"dbt build --target {target} failed: {failed}. The errors are in this log and in "
                    "each failed model's task; fix them and clear this task to build again."
                )
            return {"seconds": result.seconds, "nodes": len(result.nodes)}

        build_task = build()
        tasks = {
            m.unique_id: DbtModelOperator(
                task_id=m.name,
                build_task_id=f"{target}.build",
                model_id=m.unique_id,
                tests=m.tests,
                # Every model task waits for the build from the start (no waves of task
                # starts): its upstream edges only draw dbt's lineage.
                trigger_rule="always",
                doc_md=f"dbt model `{m.name}` on `{target}`; tests: {len(m.tests)}.",
            )
            for m in models
        }
        for m in models:
            for upstream in m.depends_on:
                tasks[upstream] >> tasks[m.unique_id]
        leaves = [t for uid, t in tasks.items() if not any(uid in m.depends_on for m in models)]
    return group, [build_task, *leaves]


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
    @task(outlets=MART_ASSETS, trigger_rule="none_failed")
    def publish_marts() -> list[str]:
        """Both targets built and tested: announce the marts (schedules the dashboard benchmark)."""
        return [asset.name for asset in MART_ASSETS]

    models = load_models(DBT_PROJECT_DIR / "target" / "manifest.json")
    publish = publish_marts()
    for target in TARGETS:
        _, ends = _target_group(target, models)
        for end in ends:
            end >> publish


dbt_marts()
