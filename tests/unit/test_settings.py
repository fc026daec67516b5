"""The names in kafka_elt.settings and their copies in SQL and YAML stay the same.

Each test reads the copy a human edits (the DDL, dbt's YAML and models) and fails,
naming the file, when it no longer matches ``kafka_elt.settings``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from kafka_elt import settings
from kafka_elt.ingest import postgres_sink

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "plugins" / "kafka_elt"


def ddl_columns(path: Path, table_placeholder: str) -> tuple[str, ...]:
    """Column names of the ``create table ... ${schema}.${<placeholder>} (...)`` in a DDL file."""
    text = path.read_text()
    match = re.search(
        r"create table if not exists \$\{schema\}\.\$\{" + table_placeholder + r"\} \((.*?)\n\)", text, re.S
    )
    assert match, f"{path}: no create table for ${{{table_placeholder}}}"
    names = []
    for line in match.group(1).splitlines():
        word = line.strip().split(" ", 1)[0]
        if word and word != "primary" and not word.startswith("--"):
            names.append(word)
    return tuple(names)


@pytest.mark.parametrize("engine", settings.ENGINES)
def test_raw_table_ddl_has_the_settings_columns(engine):
    path = ROOT / "include" / "sql" / engine / "raw_topic_table.sql"
    assert ddl_columns(path, "table") == settings.RAW_COLUMNS, path


@pytest.mark.parametrize("engine", settings.ENGINES)
def test_dead_letter_ddl_has_the_settings_columns(engine):
    path = ROOT / "include" / "sql" / engine / "raw_schema.sql"
    assert ddl_columns(path, "dead_letter_table") == settings.DEAD_LETTER_COLUMNS, path


def test_postgres_copy_order_names_the_raw_columns():
    assert sorted(postgres_sink._COLUMNS) == sorted(settings.RAW_COLUMNS)
    assert postgres_sink._DEAD_COLUMNS[-1] == "error_reason"
    assert sorted(postgres_sink._DEAD_COLUMNS) == sorted(settings.DEAD_LETTER_COLUMNS)


def test_dbt_sources_list_the_raw_columns():
    path = ROOT / "dbt" / "models" / "staging" / "kafka" / "_kafka__sources.yml"
    (source,) = yaml.safe_load(path.read_text())["sources"]
    topic_tables = [t for t in source["tables"] if t["name"] != "dead_letter"]
    assert topic_tables, path
    for table in topic_tables:
        assert tuple(c["name"] for c in table["columns"]) == settings.RAW_COLUMNS, f"{path}: {table['name']}"


def test_marts_are_the_dbt_mart_models_and_all_checksummed():
    models = {p.stem for p in (ROOT / "dbt" / "models" / "marts").rglob("*.sql")}
    assert set(settings.MARTS) == models, "settings.MARTS and dbt/models/marts/ differ"
    checksums = (ROOT / "dbt" / "models" / "comparison" / "mart_checksums.sql").read_text()
    summed = set(re.findall(r"mart_checksum\('(\w+)'", checksums))
    assert summed == set(settings.MARTS), "mart_checksums.sql does not checksum exactly settings.MARTS"


def test_dbt_profiles_default_to_the_mart_schema():
    profiles = (ROOT / "dbt" / "profiles.yml").read_text()
    defaults = set(re.findall(r"env_var\('DBT_(?:POSTGRES|CLICKHOUSE)_SCHEMA', '(\w+)'\)", profiles))
    assert defaults == {settings.MART_SCHEMA}


def _literal_assignments(path: Path) -> dict[str, object]:
    found = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                found[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return found


SHARED_NAMES = {
    name: value
    for name, value in vars(settings).items()
    if name.isupper() and isinstance(value, str | tuple) and name not in {"SQL_DIR", "ROOT"}
}


@pytest.mark.parametrize(
    "path",
    [p for p in sorted((ROOT / "plugins").rglob("*.py")) if p.name != "settings.py"]
    + sorted((ROOT / "dags").glob("*.py")),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_no_module_redeclares_a_shared_name(path):
    """A constant named like one in settings, holding the same value, is a copy to remove."""
    copies = [
        name
        for name, value in _literal_assignments(path).items()
        if name in SHARED_NAMES and value == SHARED_NAMES[name]
    ]
    assert not copies, f"{path.relative_to(ROOT)} redeclares {copies}: import them from kafka_elt.settings"


@pytest.mark.parametrize("package", ["ingest", "dashboard", "transform"])
def test_runtime_never_imports_the_local_stack(package):
    offenders = []
    for path in sorted((PLUGIN / package).rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(n == "kafka_elt.stack" or n.startswith("kafka_elt.stack.") for n in names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, f"the runtime imports the local stack launcher: {offenders}"


def test_mart_checksums_accepts_exactly_the_settings_marts():
    path = ROOT / "dbt" / "models" / "comparison" / "_comparison__models.yml"
    (model,) = yaml.safe_load(path.read_text())["models"]
    (column,) = [c for c in model["columns"] if c["name"] == "mart_name"]
    (accepted,) = [
        t["accepted_values"] for t in column["data_tests"] if isinstance(t, dict) and "accepted_values" in t
    ]
    assert tuple(accepted["arguments"]["values"]) == settings.MARTS, path
