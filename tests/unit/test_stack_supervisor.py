"""The local stack's supervision: supervisord's config, the restart counter, the launcher.

No service runs here: the config is read by supervisord's own parser, the restart
counter is driven through supervisord's event protocol, and the launcher's checks run
against sockets and processes made for the test."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kafka_elt.stack import restart_counter, supervision
from kafka_elt.stack.config import _SECRET_NAMES, StackConfig, parse_env_file
from kafka_elt.stack.launch import end_previous_group, missing_requirement
from kafka_elt.stack.process import Service, _group_pids, pid_alive
from kafka_elt.stack.services import flat

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def cfg(tmp_path, monkeypatch) -> StackConfig:
    shutil.copy(REPO / ".env.example", tmp_path / ".env.example")
    for name in [*parse_env_file(REPO / ".env.example"), *_SECRET_NAMES]:
        monkeypatch.delenv(name, raising=False)
    return StackConfig.load(tmp_path)


def parsed(cfg: StackConfig):
    """The config as supervisord itself reads it (fails on any invalid value)."""
    from supervisor.options import ServerOptions

    path = supervision.config_path(cfg)
    for folder in (path.parent, cfg.state_dir / "logs", cfg.state_dir / "run"):  # as `make up` makes them
        folder.mkdir(parents=True, exist_ok=True)
    path.write_text(supervision.render_config(cfg, flat(cfg)))
    options = ServerOptions()
    options.realize(args=["-c", str(path)])
    return options, {group.name: group.process_configs[0] for group in options.process_group_configs}


def test_supervisord_reads_the_config_and_listens_on_a_private_unix_socket_only(cfg):
    options, programs = parsed(cfg)
    assert [server["family"] for server in options.server_configs] == [socket.AF_UNIX]
    assert options.server_configs[0]["file"] == str(supervision.socket_path(cfg))
    assert options.server_configs[0]["chmod"] == 0o700
    assert set(programs) == {svc.name for svc in flat(cfg)} | {supervision.LISTENER}


def test_every_service_is_started_by_make_up_in_order_and_restarted_with_backoff(cfg):
    _, programs = parsed(cfg)
    services = flat(cfg)
    priorities = [programs[svc.name].priority for svc in services]
    assert priorities == sorted(priorities)  # shutdown stops Airflow first, PostgreSQL last
    for svc in services:
        program = programs[svc.name]
        assert program.autostart is False  # make up starts each after what it needs is ready
        assert program.startretries == supervision.START_RETRIES
        assert program.stopasgroup and program.killasgroup
        assert program.stdout_logfile == str(svc.log_file)
        assert program.command.endswith(f"-m kafka_elt.stack.launch {svc.name}")


def test_a_clean_shutdown_of_postgres_or_clickhouse_stays_down_and_a_crash_does_not(cfg):
    from supervisor.datatypes import RestartUnconditionally, RestartWhenExitUnexpected

    _, programs = parsed(cfg)
    for name in ("postgres", "clickhouse"):
        assert programs[name].autorestart is RestartWhenExitUnexpected
        assert programs[name].exitcodes == [0]
    assert programs["postgres"].stopsignal == signal.SIGINT  # fast shutdown
    for name in ("kafka", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"):
        assert programs[name].autorestart is RestartUnconditionally


def test_airflow_components_count_a_quick_exit_as_a_failed_start(cfg):
    # Without PostgreSQL they exit ~2.5 s after start (measured); a shorter startsecs would
    # count that as a run and restart at once, with no backoff.
    _, programs = parsed(cfg)
    for svc in flat(cfg):
        if svc.name.startswith("airflow-"):
            assert programs[svc.name].startsecs >= 10
            assert svc.requires == (
                ("PostgreSQL (Airflow's metadata database)", cfg.host, cfg.port("POSTGRES")),
            )


def test_the_config_holds_no_secret(cfg):
    text = supervision.render_config(cfg, flat(cfg))
    for name in _SECRET_NAMES:
        assert cfg[name] not in text, name


def test_restart_counter_counts_what_supervisord_restarts_on_its_own():
    counts: dict = {}
    always = {"kafka"}

    def event(name: str, fields: str) -> bool:
        return restart_counter.record(counts, name, restart_counter.parse_payload(fields), always)

    assert event(
        "PROCESS_STATE_BACKOFF", "processname:postgres groupname:postgres from_state:STARTING tries:1"
    )
    assert event(
        "PROCESS_STATE_EXITED", "processname:postgres groupname:postgres from_state:RUNNING expected:0 pid:7"
    )
    # `pg_ctl stop`: exit 0 is expected, and postgres restarts only on unexpected exits.
    assert not event(
        "PROCESS_STATE_EXITED", "processname:postgres groupname:postgres from_state:RUNNING expected:1 pid:8"
    )
    # kafka restarts on any exit.
    assert event(
        "PROCESS_STATE_EXITED", "processname:kafka groupname:kafka from_state:RUNNING expected:1 pid:9"
    )
    assert not event("PROCESS_STATE_STOPPED", "processname:kafka groupname:kafka from_state:STOPPING pid:9")
    assert counts["postgres"]["restarts"] == 2
    assert counts["postgres"]["last"] == "exited (pid 7, unexpected)"
    assert counts["kafka"]["restarts"] == 1


def test_restart_counter_speaks_supervisords_event_protocol(tmp_path):
    state = tmp_path / "restarts.json"
    state.write_text(json.dumps({"kafka": {"restarts": 4}}))  # a restarted listener goes on counting
    payloads = [
        ("PROCESS_STATE_EXITED", "processname:kafka groupname:kafka from_state:RUNNING expected:1 pid:42"),
        ("PROCESS_STATE_BACKOFF", "processname:clickhouse groupname:clickhouse from_state:STARTING tries:1"),
    ]
    stream = "".join(
        f"ver:3.0 server:x serial:{i} pool:restart-counter poolserial:{i} eventname:{name} len:{len(body)}\n{body}"
        for i, (name, body) in enumerate(payloads)
    )
    listener = subprocess.run(
        [sys.executable, "-m", "kafka_elt.stack.restart_counter", "--state", str(state), "--always", "kafka"],
        input=stream,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,  # ends cleanly when supervisord closes the channel
    )
    assert listener.stdout == "READY\nRESULT 2\nOKREADY\nRESULT 2\nOKREADY\n"
    counts = json.loads(state.read_text())
    assert counts["kafka"]["restarts"] == 5
    assert counts["clickhouse"]["restarts"] == 1


def test_launcher_says_what_is_missing_before_starting():
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        svc = Service(
            "x", ["true"], Path("/dev/null"), Path("/dev/null"), requires=(("the thing", "127.0.0.1", port),)
        )
        assert missing_requirement(svc) is None
    problem = missing_requirement(svc)
    assert problem is not None and f"the thing at 127.0.0.1:{port} does not accept connections" in problem


def test_launcher_ends_what_a_killed_instance_left_in_its_process_group(tmp_path):
    # A leader with a child in its own process group, as a scheduler with its workers.
    leader = subprocess.Popen(["sh", "-c", "sleep 60 & wait"], start_new_session=True)
    try:
        deadline = time.monotonic() + 5
        while len(_group_pids(leader.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        pid_file = tmp_path / "x.pid"
        pid_file.write_text(f"{leader.pid}\n")
        svc = Service("x", ["true"], tmp_path / "x.log", pid_file)
        assert end_previous_group(svc) == []  # the leader still runs: not ours to end
        os.kill(leader.pid, signal.SIGKILL)
        leader.wait()
        orphans = _group_pids(leader.pid)
        assert orphans, "the child should outlive its killed leader"
        assert end_previous_group(svc) == orphans
        assert not any(pid_alive(pid) for pid in orphans)
    finally:
        if _group_pids(leader.pid):
            os.killpg(leader.pid, signal.SIGKILL)
