"""One Airflow task per dbt model that costs no worker process.

``DbtModelOperator`` starts directly in the triggerer (``start_from_trigger``): the
scheduler hands its ``DbtModelTrigger`` to the triggerer, which waits for the target's
``build`` task to finish and ends the task from there (``TaskSuccessEvent`` and friends)
as its model and the model's tests ended in that build:

- success: the model was built and every test of it passed (warnings are logged);
- failed: the model or one of its tests failed (the log names them and dbt's message);
- skipped: dbt skipped it (an upstream node failed), or it was not selected because its
  raw tables had nothing new in this run.

So the UI shows every model's outcome, with a log, while dbt itself runs once per target;
a model task costs a coroutine in the triggerer, not a process start. To build a model
again, clear the target's ``build`` task (downstream included): dbt models are idempotent.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseOperator
from airflow.triggers.base import (
    BaseTrigger,
    StartTriggerArgs,
    TaskFailedEvent,
    TaskSkippedEvent,
    TaskSuccessEvent,
    TriggerEvent,
)
from asgiref.sync import sync_to_async

from kafka_elt.transform.build import FAILED, RESULTS_XCOM_KEY

# The build task's states after which its results will not change any more.
_BUILD_DONE = {"success", "failed"}
_BUILD_NEVER_RAN = {"upstream_failed", "skipped", "removed"}


def model_outcome(model_id: str, tests: Sequence[str], results: dict) -> tuple[str, list[str]]:
    """("success" | "failed" | "skipped", log lines) of one model in a build's results."""
    nodes = results.get("nodes") or {}
    model = nodes.get(model_id)
    if model is None:
        scope = " ".join(results.get("select") or [])
        return "skipped", [f"{model_id} was not selected in this build ({scope}): nothing new upstream"]
    lines = [
        f"{model_id}: {model['status']} in {model['seconds']:.2f}s {model.get('message') or ''}".rstrip()
    ]
    failed = model["status"] in FAILED
    ran_tests = [(t, nodes[t]) for t in tests if t in nodes]
    for test_id, test in ran_tests:
        if test["status"] != "pass":
            lines.append(f"  test {test_id}: {test['status']} {test.get('message') or ''}".rstrip())
        failed = failed or test["status"] in FAILED
    passed = sum(1 for _, t in ran_tests if t["status"] == "pass")
    lines.append(f"  tests: {passed} of {len(ran_tests)} passed ({len(tests)} defined)")
    if failed:
        lines += [f"  dbt: {e}" for e in (results.get("errors") or [])[:20]]
        return "failed", lines
    if model["status"] == "skipped":
        return "skipped", lines
    return "success", lines


class DbtModelTrigger(BaseTrigger):
    """Waits for the build task of this run and ends the model's task with its outcome."""

    def __init__(
        self, build_task_id: str, model_id: str, tests: Sequence[str], poll_interval: float = 2.0
    ) -> None:
        super().__init__()
        self.build_task_id = build_task_id
        self.model_id = model_id
        self.tests = list(tests)
        self.poll_interval = poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "build_task_id": self.build_task_id,
                "model_id": self.model_id,
                "tests": self.tests,
                "poll_interval": self.poll_interval,
            },
        )

    def _ti(self) -> Any:
        if self.task_instance is None:
            raise RuntimeError(f"{self.task_id}: no task instance; this trigger runs only in the triggerer")
        return self.task_instance

    def _build_state(self) -> str | None:
        from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

        ti = self._ti()
        states = RuntimeTaskInstance.get_task_states(
            dag_id=ti.dag_id, task_ids=[self.build_task_id], run_ids=[ti.run_id]
        )
        state = states.get(ti.run_id, {}).get(self.build_task_id)
        return str(state) if state is not None else None

    def _results(self) -> dict | None:
        from airflow.sdk.execution_time.xcom import XCom

        ti = self._ti()
        return XCom.get_one(
            key=RESULTS_XCOM_KEY, dag_id=ti.dag_id, task_id=self.build_task_id, run_id=ti.run_id, map_index=-1
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        polls = 0
        while True:
            # The build's state first: its results are final only once it has ended (a
            # retry clears the results of the previous try).
            state = await sync_to_async(self._build_state)()
            if state in _BUILD_DONE:
                results = await sync_to_async(self._results)()
                if results is None:
                    self.log.error(
                        "%s ended %s without dbt results (killed?); see its log", self.build_task_id, state
                    )
                    yield TaskFailedEvent()
                    return
                outcome, lines = model_outcome(self.model_id, self.tests, results)
                for line in lines:
                    (self.log.error if outcome == "failed" else self.log.info)("%s", line)
                yield {"success": TaskSuccessEvent, "failed": TaskFailedEvent, "skipped": TaskSkippedEvent}[
                    outcome
                ]()
                return
            if state in _BUILD_NEVER_RAN:
                self.log.warning("%s is %s: dbt did not run in this DAG run", self.build_task_id, state)
                yield TaskSkippedEvent()
                return
            polls += 1
            # Every poll asks the API server for the build's state: a build takes seconds,
            # so every 2 s, then every 6 s once it has run for minutes.
            await asyncio.sleep(self.poll_interval if polls < 60 else self.poll_interval * 3)


class DbtModelOperator(BaseOperator):
    """The task of one dbt model of one target; see the module docstring."""

    ui_color = "#e8f1fb"
    start_from_trigger = True
    start_trigger_args = StartTriggerArgs(
        trigger_cls=f"{DbtModelTrigger.__module__}.{DbtModelTrigger.__qualname__}",
        trigger_kwargs={},
        next_method="execute_complete",
        next_kwargs=None,
        timeout=timedelta(hours=2),
    )

    def __init__(
        self, *, build_task_id: str, model_id: str, tests: Sequence[str], poll_interval: float = 2.0, **kwargs
    ) -> None:
        # Its outcome is dbt's, read from the build: running it again would read the same.
        kwargs.setdefault("retries", 0)
        super().__init__(**kwargs)
        self.build_task_id = build_task_id
        self.model_id = model_id
        self.tests = list(tests)
        self.start_trigger_args = dataclasses.replace(
            type(self).start_trigger_args,
            trigger_kwargs={
                "build_task_id": build_task_id,
                "model_id": model_id,
                "tests": self.tests,
                "poll_interval": poll_interval,
            },
        )

    def execute(self, context: Any) -> None:
        # Only reached if the triggerer path is unavailable: defer from the worker instead.
        self.defer(
            trigger=DbtModelTrigger(**(self.start_trigger_args.trigger_kwargs or {})),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Any, event: Any = None) -> None:
        return None
