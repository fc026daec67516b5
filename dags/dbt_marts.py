"""Build the dbt project in PostgreSQL and ClickHouse, scheduled on the raw-table Assets."""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta

import pendulum
from airflow.sdk import AssetAny, TaskGroup, Variable, dag, get_current_context, task

from kafka_elt.assets import MART_ASSETS, RAW_ASSETS
from kafka_elt.settings import DBT_PROJECT_DIR, POSTGRES_CONN_ID
from kafka_elt.transform.manifest import Model, load_models
from kafka_elt.transform.models import DbtModelOperator

log = logging.getLogger(__name__)

DBT_EXECUTABLE = os.environ.get("DBT_EXECUTABLE", "dbt")
DBT_RAW_SCHEMA = os.environ.get("DBT_RAW_SCHEMA", "raw")
TARGETS = ("postgres", "clickhouse")
# The staging tests that keep a time window (a staging model no offset-incremental model
# folds in: the dead letters; the others test by Kafka offset, dbt/macros/tests_where.sql)
# check the rows ingested since the previous good build's start, less this margin: a
# batch is stamped (ingested_at) when its write starts and committed seconds later, so a
# row stamped just before that build started may have been invisible to it.
STAGING_TEST_OVERLAP = timedelta(seconds=60)
# Airflow Variables, one per target and raw table: when the last successful build that
# covered that table started.
LAST_GOOD_BUILD_VARIABLE = "dbt_marts.last_good_build_started_at"

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
  `dbt/target/<target>/`, and logs a line per model and test. Then one
  `<target>.<model>` task per model ends as that model and its tests ended in the build
  (failed: its log names the failing test and dbt's message; skipped: not selected this
  run, or dbt skipped it after an upstream failure). Model tasks run in the triggerer,
  not on a worker: they cost no process start.
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


def _selected_sources(select: list[str], models: list[Model]) -> list[str]:
    """The raw tables ("kafka.<table>") a build covers: those selected, or every one."""
    chosen = [item.removeprefix("source:").removesuffix("+") for item in select]
    return sorted(set(chosen) if chosen else {src for m in models for src in m.sources})


def _keep_warnings(build_id: str, result) -> None:
    """Tests that warned go where the Engine comparison page shows them; a failure to
    store them is logged, never fails the build (the marts are fine)."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    from kafka_elt.transform.findings import record_warnings, warned_tests

    if not warned_tests(result):
        return
    try:
        with PostgresHook(postgres_conn_id=POSTGRES_CONN_ID).get_conn() as conn:
            record_warnings(conn, build_id, result)
    except Exception as exc:
        log.warning("could not store the dbt test warnings in monitoring.dbt_test_warning: %s", exc)


def _last_good_key(target: str, source: str) -> str:
    return f"{LAST_GOOD_BUILD_VARIABLE}.{target}.{source}"


def _model_doc(model: Model, target: str, readers: list[str]) -> str:
    reads = [uid.rsplit(".", 1)[-1] for uid in model.depends_on] or [f"source {s}" for s in model.sources]
    return (
        f"dbt model `{model.name}` on `{target}`, {len(model.tests)} tests. Reads: "
        f"{', '.join(reads)}; read by: {', '.join(readers) or 'nothing'}. Its outcome is the one in "
        f"`{target}.build`; clear that task to build it again."
    )


def _target_group(target: str, models: list[Model]) -> list:
    with TaskGroup(group_id=target, tooltip=f"dbt build --target {target}, one task per model"):

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
            started_at = pendulum.now("UTC")
            select = selection_for(target, DBT_RAW_SCHEMA, _changed_raw_assets(context))
            # Tests check what this build adds, not every row every time (dbt/macros/
            # tests_where.sql): the staging tests the messages the marts have not folded
            # in yet, and the tests of the incremental marts the rows this build wrote,
            # as long as the last build of the same raw tables passed. After a failed
            # one (its last-good Variables are gone) they test the marts in full.
            sources = _selected_sources(select, models)
            last_good = [Variable.get(_last_good_key(target, src), default=None) for src in sources]
            # One dbt_marts run is one build in both engines' build logs (dbt/macros/
            # build_log.sql): the dashboard benchmark compares them only on the same build.
            # Environment, not --vars: changed --vars make dbt re-parse the whole project.
            env = {**os.environ, "DBT_BUILD_ID": context["run_id"]}
            env.pop("DBT_STAGING_TESTS_SINCE", None)
            env["DBT_MART_TESTS"] = "all"
            if last_good and all(last_good):
                since = min(pendulum.instance(datetime.fromisoformat(str(t))) for t in last_good)
                env["DBT_STAGING_TESTS_SINCE"] = (since - STAGING_TEST_OVERLAP).isoformat()
                env["DBT_MART_TESTS"] = "new_rows"
            result = run_build(
                target, select, dbt_executable=DBT_EXECUTABLE, project_dir=DBT_PROJECT_DIR, env=env
            )
            context["ti"].xcom_push(key=RESULTS_XCOM_KEY, value=result.to_dict())
            _keep_warnings(context["run_id"], result)
            if not result.ok:
                # Rows this build wrote may have failed their tests: the next build of
                # these raw tables tests the marts in full.
                for src in sources:
                    Variable.delete(_last_good_key(target, src))
                failed = ", ".join(result.failed_nodes) or f"dbt exited with {result.returncode}"
                raise AirflowException(
                    f"dbt build --target {target} failed: {failed}. The errors are in this log and in "
                    "each failed model's task; fix them and clear this task to build again."
                )
            for src in sources:
                Variable.set(_last_good_key(target, src), started_at.isoformat())
            return {"seconds": result.seconds, "nodes": len(result.nodes)}

        build_task = build()
        readers = {m.unique_id: [r.name for r in models if m.unique_id in r.depends_on] for m in models}
        model_tasks = [
            DbtModelOperator(
                task_id=m.name,
                build_task_id=f"{target}.build",
                model_id=m.unique_id,
                tests=m.tests,
                # After the build, whatever its outcome, all at once: each reads the
                # build's results once. (dbt's lineage is in each task's doc, not in
                # edges: edges would start them in waves, one scheduler round each.)
                trigger_rule="all_done",
                doc_md=_model_doc(m, target, readers[m.unique_id]),
            )
            for m in models
        ]
        build_task >> model_tasks
    return model_tasks


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
        _target_group(target, models) >> publish


dbt_marts()
