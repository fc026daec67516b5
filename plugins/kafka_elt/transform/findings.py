"""dbt tests at warn severity that found rows, kept where the dashboard page shows them.

A warning is a data-quality finding that must not stop the marts (an exchange's new
candle type, a WebDAV method): the build succeeds, and the finding is stored in
PostgreSQL ``monitoring.dbt_test_warning`` so that it is seen rather than lost in a log.
"""

from __future__ import annotations

import logging

from kafka_elt.settings import SQL_DIR
from kafka_elt.transform.build import BuildResult

log = logging.getLogger(__name__)

DDL_FILE = SQL_DIR / "postgres" / "dbt_test_warning.sql"

_UPSERT = """
insert into monitoring.dbt_test_warning (build_id, target, test_id, failing_rows, message)
values (%s, %s, %s, %s, %s)
on conflict (build_id, target, test_id) do update
set failing_rows = excluded.failing_rows, message = excluded.message, recorded_at = now()
"""

# Shown on the page: what warned in the last day, newest first, one line per test.
RECENT_SQL = """
select distinct on (target, test_id)
    target, test_id, failing_rows, message, build_id, recorded_at
from monitoring.dbt_test_warning
where recorded_at > now() - interval '24 hours'
order by target, test_id, recorded_at desc
"""


def warned_tests(result: BuildResult) -> list[tuple[str, int | None, str]]:
    """(test unique_id, failing rows or None, message) of every test that warned."""
    found = []
    for uid, node in sorted(result.nodes.items()):
        if node.status != "warn" or not uid.startswith("test."):
            continue
        rows = node.message.split(" ", 1)[0]
        found.append((uid, int(rows) if rows.isdigit() else None, node.message or "warned"))
    return found


def record_warnings(conn, build_id: str, result: BuildResult) -> int:
    """Store the build's warnings (``conn``: psycopg, the loader role); return how many."""
    found = warned_tests(result)
    if not found:
        return 0
    with conn.cursor() as cur:
        cur.execute(DDL_FILE.read_text())
        cur.executemany(_UPSERT, [(build_id, result.target, uid, rows, msg) for uid, rows, msg in found])
    conn.commit()
    for uid, _rows, msg in found:
        log.warning(
            "dbt --target %s: test %s warned: %s (kept, the marts are built)", result.target, uid, msg
        )
    return len(found)
