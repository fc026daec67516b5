"""The dashboard's queries: ``include/sql/dashboard/<name>.sql``, one per question.

``<name>.sql`` serves every engine unless ``<name>.<engine>.sql`` sits beside it (only
where the SQL must differ). The first comment line is the question, shown on the page.
Parameters are written ``%(name)s``: both psycopg and clickhouse-connect bind that style,
so one file serves both engines; for the same reason a literal percent sign is refused.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from kafka_elt.settings import ENGINES, SQL_DIR

# Its own variable, so that a test (or a trial of new questions) can point the benchmark
# at another folder of queries without moving the rest of include/.
QUERY_DIR = Path(os.environ.get("KAFKA_ELT_DASHBOARD_SQL_DIR", SQL_DIR / "dashboard"))

log = logging.getLogger(__name__)

_PARAM = re.compile(r"%\((\w+)\)s")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class QueryFileError(ValueError):
    """A dashboard query file is malformed; the message names the file."""


@dataclass(frozen=True)
class DashboardQuery:
    name: str
    title: str
    sql: dict[str, str]  # engine -> SQL text

    def params_for(self, engine: str, params: dict[str, object]) -> dict[str, object]:
        """The subset of ``params`` this query's SQL uses on ``engine``; all must be given."""
        wanted = sorted(set(_PARAM.findall(self.sql[engine])))
        missing = [p for p in wanted if p not in params]
        if missing:
            raise KeyError(
                f"dashboard query {self.name!r} needs parameter(s) {missing}; given {sorted(params)}"
            )
        return {p: params[p] for p in wanted}


def _title(sql: str, path: Path) -> str:
    for line in sql.splitlines():
        if line.strip().startswith("--"):
            return line.strip().removeprefix("--").strip()
        if line.strip():
            break
    raise QueryFileError(f"{path}: the first line must be a `-- <question>` comment (shown on the page)")


def _check(sql: str, path: Path) -> str:
    if "%" in _PARAM.sub("", sql):
        raise QueryFileError(
            f"{path}: a literal '%' would be read as a parameter by one driver and not the other; "
            "rewrite it (e.g. multiply by 100 instead of formatting a percent sign)"
        )
    return sql.strip().rstrip(";")


def load_queries(directory: Path = QUERY_DIR) -> list[DashboardQuery]:
    """Every query in ``directory``, sorted by name, with the SQL for each engine."""
    if not directory.is_dir():
        raise QueryFileError(f"dashboard query folder {directory} does not exist")
    bases: dict[str, Path] = {}
    variants: dict[tuple[str, str], Path] = {}
    for path in sorted(directory.glob("*.sql")):
        parts = path.name[: -len(".sql")].split(".")
        if len(parts) == 1:
            bases[parts[0]] = path
        elif len(parts) == 2 and parts[1] in ENGINES:
            variants[(parts[0], parts[1])] = path
        else:
            raise QueryFileError(f"{path}: name it <query>.sql or <query>.<engine>.sql, engine in {ENGINES}")
    orphans = sorted({name for name, _ in variants} - set(bases))
    if orphans:
        raise QueryFileError(
            f"{directory}: engine variants without a base <query>.sql: {orphans}; the base file "
            "holds the portable SQL (or at least the question) every engine falls back to"
        )
    queries = []
    for name, base in sorted(bases.items()):
        if not _NAME.match(name):
            raise QueryFileError(f"{base}: query names are lowercase identifiers (they are stored as text)")
        base_sql = base.read_text()
        sql = {}
        for engine in ENGINES:
            path = variants.get((name, engine), base)
            sql[engine] = _check(path.read_text() if path != base else base_sql, path)
        queries.append(DashboardQuery(name=name, title=_title(base_sql, base), sql=sql))
    if not queries:
        raise QueryFileError(f"no dashboard queries (*.sql) in {directory}")
    return queries


def query_titles(directory: Path = QUERY_DIR) -> dict[str, str]:
    """Query name -> question, for the page. A broken query file must not take the page
    down (it shows stored results, not these files), so the page falls back to names."""
    try:
        return {q.name: q.title for q in load_queries(directory)}
    except (OSError, QueryFileError) as exc:
        log.warning("dashboard page shows query names without their questions: %s", exc)
        return {}
