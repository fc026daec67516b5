"""The engine-comparison dashboard: its queries, the benchmark that runs them against
PostgreSQL and ClickHouse, the results store in ``monitoring``, and the page's data.

Modules (each small, and importable without Airflow unless it says otherwise):

- ``queries``: load ``include/sql/dashboard/*.sql`` (engine-specific variants beside them)
- ``stats``: latency statistics (min, median, nearest-rank p95)
- ``compare``: normalise result rows, compare two engines' results, readable diff, hash
- ``engines``: run one query on PostgreSQL or ClickHouse and time it
- ``runner``: warm-up, timed repetitions, comparison, for one query on every engine
- ``snapshot``: mart sizes, checksums and freshness read from both engines
- ``store``: the ``monitoring`` schema and writing results into it
- ``page_data`` / ``page_html`` / ``web``: what the Airflow UI page shows, read from
  the results tables only
"""
