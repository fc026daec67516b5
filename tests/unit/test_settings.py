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
from kafka_elt.ingest import clickhouse_sink, ddl, pg_binary, postgres_sink, validators
from kafka_elt.ingest.registry import load_registry

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


def decoded_columns(kind: str) -> tuple[str, ...]:
    """A raw table's columns after RAW_COLUMNS: the flag, then its kind's decoded fields."""
    return (settings.DECODED_AT_LOAD, *(name for name, _, _ in settings.KIND_COLUMNS[kind]))


def added_columns(path: Path) -> list[tuple[str, str]]:
    """(name, type) of every ``add column if not exists`` in a DDL file, in order."""
    return re.findall(r"add column if not exists (\w+) (.+?)[,;]?$", path.read_text(), re.M)


@pytest.mark.parametrize("engine", settings.ENGINES)
@pytest.mark.parametrize("kind", sorted(settings.KIND_COLUMNS))
def test_decoded_columns_ddl_has_the_settings_columns_and_types(engine, kind):
    path = ROOT / "include" / "sql" / engine / f"raw_decoded_{kind}.sql"
    position = settings.ENGINES.index(engine)
    expected = [(settings.DECODED_AT_LOAD, settings.DECODED_AT_LOAD_TYPES[position])] + [
        (name, types[position]) for name, *types in settings.KIND_COLUMNS[kind]
    ]
    assert added_columns(path) == expected, path
    # Each statement must be one ddl.py recognises (and skips once its columns exist).
    statements = ddl.split_statements(path.read_text())
    assert [c for s in statements for c in ddl.added_columns(s)] == list(decoded_columns(kind)), path


def test_every_registry_kind_has_decoded_columns_and_a_decoder():
    assert set(validators.KINDS) == set(settings.KIND_COLUMNS)
    for kind, decoder in validators.KINDS.items():
        assert decoder.name == kind and decoder.columns == decoded_columns(kind)[1:]
    pg_types = {pg_type for columns in settings.KIND_COLUMNS.values() for _, pg_type, _ in columns}
    assert pg_types <= set(pg_binary.COLUMN_ENCODERS), "a PostgreSQL type without a COPY encoder"


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        (
            "market_candle",
            '{"schema": {}, "payload": {"type": "candle", "code": "BTC-USD", "timestamp": 60, "opening_price": 1.5,'
            ' "high_price": 2, "low_price": 1, "trade_price": 1.75, "candle_acc_trade_volume": 3.25,'
            ' "candle_acc_trade_price": 4, "stream_type": "REALTIME"}}',
            {"is_connect_envelope": True, "candle_type": "candle", "code": "BTC-USD", "candle_timestamp": 60,
             "opening_price": 1.5, "high_price": 2.0, "low_price": 1.0, "trade_price": 1.75,
             "candle_acc_trade_volume": 3.25, "candle_acc_trade_price": 4.0, "stream_type": "REALTIME"},
        ),
        (
            "footprint",
            '{"link": "/a?b", "method": "get", "footprint_time": "1970-01-01T09:00:01.5+09:00"}',
            {"link": "/a?b", "method": "get", "footprint_time": "1970-01-01T09:00:01.5+09:00", "footprint_at": 1_500_000},
        ),
    ],
)  # fmt: skip
def test_decoders_return_fields_in_the_settings_order(kind, text, expected):
    reason, fields = validators.KINDS[kind].decode(text)
    assert reason is None and fields
    assert dict(zip(decoded_columns(kind)[1:], fields, strict=True)) == expected
    assert [type(v) for v in fields] == [type(v) for v in expected.values()]


@pytest.mark.parametrize("kind", sorted(settings.KIND_COLUMNS))
def test_sinks_write_every_raw_column(kind):
    every = sorted((*settings.RAW_COLUMNS, *decoded_columns(kind)))
    assert sorted(postgres_sink.raw_copy_columns(kind)) == every
    assert sorted(clickhouse_sink.raw_insert_columns(kind)) == every
    # The COPY stream's order: 4 constants, decoded_at_load, the message's own, its fields.
    assert postgres_sink.raw_copy_columns(kind)[4] == settings.DECODED_AT_LOAD
    assert (
        postgres_sink.raw_copy_columns(kind)[-len(decoded_columns(kind)) + 1 :] == decoded_columns(kind)[1:]
    )


def test_dbt_sources_list_the_raw_columns():
    path = ROOT / "dbt" / "models" / "staging" / "kafka" / "_kafka__sources.yml"
    (source,) = yaml.safe_load(path.read_text())["sources"]
    topic_tables = [t for t in source["tables"] if t["name"] != "dead_letter"]
    assert topic_tables, path
    kinds = {spec.table: spec.kind for spec in load_registry()}
    for table in topic_tables:
        expected = (*settings.RAW_COLUMNS, *decoded_columns(kinds[table["name"]]))
        assert tuple(c["name"] for c in table["columns"]) == expected, f"{path}: {table['name']}"


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
