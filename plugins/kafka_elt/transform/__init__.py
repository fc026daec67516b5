"""dbt in Airflow: one ``dbt build`` process per target and run, one task per model.

- ``manifest``: the models, their dbt dependencies and tests, read from dbt's manifest at
  DAG-parse time (no dbt run, no dbt import: dbt lives in its own venv).
- ``build``: runs ``dbt build`` as a subprocess of dbt's venv with JSON logs, reports
  every node as it finishes, and returns the result of every node.
- ``models``: the per-model tasks. They start in the triggerer (no worker process), wait
  for the build's results, and end as their model and its tests ended.
"""
