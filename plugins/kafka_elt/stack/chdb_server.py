"""Serve ClickHouse's own HTTP interface from the chdb engine, in a dedicated process.

``chdb.connect()`` runs an embedded engine that cannot open listeners. The private
``chdb._chdb.query`` runs the full clickhouse-local program instead, which can: it reads
``./config.xml`` from the working directory, so we write one (listen host, port, users),
``chdir`` there, start the HTTP listener and then run a query that never returns. The
listener lives exactly as long as that call, i.e. as long as this process.

One server per process and per data folder (the engine locks ``<data>/status``).

Run: ``python -m kafka_elt.stack.chdb_server --data DIR --conf-dir DIR --port 8123``
with ``CLICKHOUSE_USER`` / ``CLICKHOUSE_PASSWORD`` in the environment.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path
from xml.sax.saxutils import escape

# The format argument becomes the HTTP interface's default output format; clients such
# as clickhouse-connect probe the server version with a bare ``SELECT`` and need text back.
_HTTP_DEFAULT_FORMAT = "TabSeparated"

# A query that never finishes: one row per hour from an infinite table. The setting
# lifts the engine's cap on how long one block may sleep.
_KEEP_ALIVE = (
    "SELECT sleepEachRow(3600) FROM system.numbers "
    "SETTINGS function_sleep_max_microseconds_per_block = 0, max_block_size = 1 "
    "FORMAT Null"
)


def render_config(host: str, http_port: int, user: str, password: str) -> tuple[str, str]:
    """Return (config.xml, users.xml): one loopback listener, one password-protected user.

    Found on chdb 4.4.0 (engine 26.9): clickhouse-local ignores a ``<users>`` section
    inside config.xml; only a separate file named by ``<users_config>`` replaces its
    built-in passwordless ``default`` user (open to ``::/0``). The engine's own session,
    which runs the listener and the keep-alive query, always logs in as ``default`` with
    no password, so ``default`` must stay; it keeps only the two grants that session
    needs and can neither read nor write any table. Loopback addresses count as one
    network for ClickHouse, so a network restriction alone would not fence it off.
    """
    password_sha256 = hashlib.sha256(password.encode()).hexdigest()
    config = f"""<clickhouse>
    <listen_host>{escape(host)}</listen_host>
    <http_port>{http_port}</http_port>
    <users_config>users.xml</users_config>
    <logger><level>warning</level><console>1</console></logger>
</clickhouse>
"""
    users = f"""<clickhouse>
    <users>
        <default>
            <no_password/>
            <networks><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
            <grants>
                <query>GRANT SYSTEM LISTEN ON *.*</query>
                <query>GRANT SELECT(number) ON system.numbers</query>
            </grants>
        </default>
        <{user}>
            <password_sha256_hex>{password_sha256}</password_sha256_hex>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
            <access_management>1</access_management>
        </{user}>
    </users>
    <profiles><default/></profiles>
    <quotas><default/></quotas>
</clickhouse>
"""
    return config, users


def serve(data_dir: Path, conf_dir: Path, host: str, port: int, user: str, password: str) -> None:
    # Import before chdir: importing chdb opens an embedded session in the current
    # folder, which must not yet hold our config.xml (that session logs in as default).
    import chdb._chdb as engine

    data_dir.mkdir(parents=True, exist_ok=True)
    conf_dir.mkdir(parents=True, exist_ok=True)
    for name, text in zip(
        ("config.xml", "users.xml"), render_config(host, port, user, password), strict=True
    ):
        path = conf_dir / name
        path.write_text(text)
        path.chmod(0o600)
    os.chdir(conf_dir)
    # No Python SIGTERM handler: the main thread stays inside the engine's C++ call and
    # would never run it. The default action ends the process at once, which is safe:
    # every insert the engine acknowledged is already on disk.
    print(f"chdb server: ClickHouse HTTP on {host}:{port}, data in {data_dir}", flush=True)
    # A private, untyped entry point of the wheel (see the module docstring).
    engine.query(f"SYSTEM START LISTEN HTTP; {_KEEP_ALIVE}", _HTTP_DEFAULT_FORMAT, path=str(data_dir))  # type: ignore[attr-defined]
    # Reaching this line means the keep-alive query ended (KILL QUERY): stop serving.
    print("chdb server: keep-alive query ended, exiting", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="ClickHouse data folder")
    parser.add_argument("--conf-dir", type=Path, required=True, help="where config.xml is written")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8123)
    args = parser.parse_args(argv)
    user = os.environ.get("CLICKHOUSE_USER", "default")
    password = os.environ.get("CLICKHOUSE_PASSWORD", "")
    if not password:
        print("chdb server: CLICKHOUSE_PASSWORD is empty; refusing to serve without one", file=sys.stderr)
        return 2
    serve(args.data.resolve(), args.conf_dir.resolve(), args.host, args.port, user, password)
    return 0


if __name__ == "__main__":
    sys.exit(main())
