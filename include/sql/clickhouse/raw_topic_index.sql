-- A minmax skip index on ingested_at, so that a read of the recently loaded rows (dbt's
-- staging tests over their window, source freshness) skips the rest of the table: rows
-- arrive in load order, so each granule spans a short time, and ClickHouse uses skip
-- indexes under FINAL too (use_skip_indexes_if_final). Without it such a read scans every
-- row, since ingested_at is not in the sort key.
--
-- An ALTER rather than part of the CREATE, so that tables created before it get it too:
-- kafka_elt.ingest.ddl runs both statements only when the index is missing. Adding the
-- index is metadata only; materializing it builds it for the parts already written (a
-- mutation that reads ingested_at alone, run once). Not linted by sqlfluff, whose
-- ClickHouse dialect has no skip-index clause: tests/unit/test_ingest_ddl_cluster.py has
-- ClickHouse's own parser read it.
alter table ${schema}.${table} add index if not exists ingested_at_minmax ingested_at type minmax granularity 1;
alter table ${schema}.${table} materialize index ingested_at_minmax;
