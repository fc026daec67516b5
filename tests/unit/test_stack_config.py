"""The stack's settings: precedence, generated secrets, connections."""

from __future__ import annotations

import json
from pathlib import Path

from kafka_elt.stack.config import StackConfig, parse_env_file

REPO = Path(__file__).resolve().parents[2]


def test_parse_env_file_reads_exports_quotes_and_comments(tmp_path):
    env = tmp_path / "x.env"
    env.write_text("# comment\nexport A='x y'\nB=2\n\nC=\"q\" # trailing\nD=\n")
    assert parse_env_file(env) == {"A": "x y", "B": "2", "C": "q", "D": ""}


def test_precedence_example_then_dotenv_then_shell(root, monkeypatch):
    (root / ".env").write_text("KAFKA_PORT=19999\nPOSTGRES_PORT=15555\n")
    monkeypatch.setenv("POSTGRES_PORT", "16666")
    cfg = StackConfig.load(root)
    assert cfg.port("KAFKA") == 19999
    assert cfg.port("POSTGRES") == 16666
    assert cfg.port("CLICKHOUSE_HTTP") == 8123  # from .env.example


def test_secrets_are_generated_once_private_and_reused(root):
    first = StackConfig.load(root)
    secrets_file = first.state_dir / "secrets.env"
    assert secrets_file.stat().st_mode & 0o777 == 0o600
    second = StackConfig.load(root)
    for name in ("LOADER_PASSWORD", "CLICKHOUSE_PASSWORD", "AIRFLOW_ADMIN_PASSWORD", "AIRFLOW_JWT_SECRET"):
        assert first[name] == second[name]
        assert len(first[name]) >= 24
    assert first["LOADER_PASSWORD"] != first["DBT_PASSWORD"]
    assert len(first["AIRFLOW_JWT_SECRET"]) >= 64  # HS512 key material


def test_state_and_secrets_stay_inside_stack_dir(root):
    cfg = StackConfig.load(root)
    assert cfg.state_dir == root / ".stack"
    assert cfg.write_env_file().parent == root / ".stack"


def test_connections_bind_loopback_and_disable_auto_commit(root):
    env = StackConfig.load(root).environment()
    kafka = json.loads(env["AIRFLOW_CONN_KAFKA_DEFAULT"])
    assert kafka["extra"]["enable.auto.commit"] is False
    assert kafka["extra"]["bootstrap.servers"] == "127.0.0.1:9092"
    for name in ("AIRFLOW_CONN_WAREHOUSE_POSTGRES", "AIRFLOW_CONN_WAREHOUSE_CLICKHOUSE"):
        assert json.loads(env[name])["host"] == "127.0.0.1"
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert env["DBT_SEND_ANONYMOUS_USAGE_STATS"] == "False"
