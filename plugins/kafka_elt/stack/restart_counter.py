"""supervisord event listener that counts the restarts supervisord does on its own.

supervisord runs it (``[eventlistener:restart-counter]``); ``make status`` reads the counts
from ``run/restarts.json``. Two events count:

- PROCESS_STATE_BACKOFF: a start that ended too early; supervisord retries it after a
  growing delay.
- PROCESS_STATE_EXITED: a running program exited by itself; supervisord restarts it when
  the exit was unexpected, or always for the programs named with ``--always``.

A stop that supervisord was asked for (``make down``) ends in STOPPED and is no restart.
Nothing but the event protocol may go to stdout; diagnostics go to stderr. The protocol
(supervisord's "event listener notification protocol") is spoken here directly:
``supervisor.childutils`` would cost 15 MiB of imports for five lines.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def parse_payload(payload: str) -> dict[str, str]:
    return dict(token.split(":", 1) for token in payload.split() if ":" in token)


def record(counts: dict[str, dict], event: str, fields: dict[str, str], always: set[str]) -> bool:
    """Count the event if it means a restart; True if ``counts`` changed."""
    name = fields.get("processname", "")
    if event == "PROCESS_STATE_BACKOFF":
        what = f"failed start (try {fields.get('tries', '?')})"
    elif event == "PROCESS_STATE_EXITED" and (fields.get("expected") == "0" or name in always):
        what = (
            f"exited (pid {fields.get('pid', '?')}, {'un' if fields.get('expected') == '0' else ''}expected)"
        )
    else:
        return False
    entry = counts.setdefault(name, {"restarts": 0})
    entry["restarts"] += 1
    entry["last_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    entry["last"] = what
    return True


def _save(path: Path, counts: dict[str, dict]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(counts, indent=1, sort_keys=True))
    os.replace(tmp, path)


def next_event(stdin, stdout) -> tuple[dict[str, str], str]:
    """Say READY, then read one event: a header line of key:value tokens, then ``len`` bytes."""
    stdout.write("READY\n")
    stdout.flush()
    line = stdin.readline()
    if not line:
        raise EOFError("supervisord closed the event channel")
    headers = parse_payload(line)
    return headers, stdin.read(int(headers["len"]))


def acknowledge(stdout) -> None:
    stdout.write("RESULT 2\nOK")
    stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state", type=Path, required=True, help="JSON file of the counts")
    parser.add_argument("--always", default="", help="comma-separated programs restarted on any exit")
    args = parser.parse_args(argv)
    always = {name for name in args.always.split(",") if name and name != "-"}
    try:  # this listener restarted: keep counting from where it was
        counts = json.loads(args.state.read_text())
    except (FileNotFoundError, ValueError):
        counts = {}
    while True:
        try:
            headers, payload = next_event(sys.stdin, sys.stdout)
        except EOFError:
            return 0  # supervisord is shutting down
        if record(counts, headers.get("eventname", ""), parse_payload(payload), always):
            _save(args.state, counts)
            print(f"{headers['eventname']} {payload}", file=sys.stderr, flush=True)
        acknowledge(sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
