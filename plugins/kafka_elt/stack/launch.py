"""Start one service of the stack in place: ``python -m kafka_elt.stack.launch NAME``.

supervisord runs this as each program's command (never run it by hand: ``make up``).
At every (re)start it builds the service's command and environment from the stack's
settings, so supervisord's config holds no secret; writes the service's pid file (the
pid stays the same through ``exec``); checks that what the service needs accepts
connections; drops to the service's OS user; and ``exec``s the program, which
supervisord then watches directly.

A restart after a crash first ends what the crashed instance left behind: supervisord
signals a process group only when it stops a program, so a scheduler killed with
SIGKILL leaves its LocalExecutor workers running (measured: 8 idle workers, 140 MiB
RSS each, orphaned for good).
"""

from __future__ import annotations

import os
import pwd
import signal
import socket
import sys
import time

from kafka_elt.stack.config import StackConfig
from kafka_elt.stack.process import Service, _group_pids, _signal_group, pid_alive


def missing_requirement(svc: Service, timeout: float = 2.0) -> str | None:
    """What the service needs and cannot reach yet, said for its log; None if all is there."""
    for what, host, port in svc.requires:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                pass
        except OSError as exc:
            return (
                f"{svc.name}: not starting: {what} at {host}:{port} does not accept connections ({exc}). "
                "supervisord retries with a growing delay; `make status` shows the restarts."
            )
    return None


def end_previous_group(svc: Service) -> list[int]:
    """SIGKILL what is left of the previous instance's process group; the pids it found.

    The previous leader's pid (from the pid file) is the group's id. Only a group whose
    leader is gone is touched: while any member keeps the group id in use, the kernel
    does not hand that number out as a new pid, so the members are the old instance's.
    """
    try:
        leader = int(svc.pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return []
    if leader == os.getpid() or pid_alive(leader):
        return []
    left = _group_pids(leader)
    if left:
        _signal_group(leader, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _group_pids(leader) and time.monotonic() < deadline:
            time.sleep(0.1)
    return left


def _drop_privileges(user: str) -> None:
    entry = pwd.getpwnam(user)
    os.setgroups([])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)


def main(argv: list[str] | None = None) -> int:
    from kafka_elt.stack.services import flat

    argv = sys.argv[1:] if argv is None else argv
    cfg = StackConfig.load(create_secrets=False)
    services = {svc.name: svc for svc in flat(cfg)}
    if len(argv) != 1 or argv[0] not in services:
        print(f"usage: python -m kafka_elt.stack.launch {{{','.join(services)}}}", file=sys.stderr)
        return 2
    svc = services[argv[0]]
    print(f"\n===== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {svc.name} (supervised)", flush=True)
    if left := end_previous_group(svc):
        print(f"{svc.name}: killed {len(left)} processes the previous instance left: {left}", flush=True)
    if (problem := missing_requirement(svc)) is not None:
        print(problem, flush=True)
        return 1
    svc.pid_file.parent.mkdir(parents=True, exist_ok=True)
    svc.pid_file.write_text(f"{os.getpid()}\n")  # before dropping privileges: run/ is ours
    if svc.cwd is not None:
        os.chdir(svc.cwd)
    if svc.user:
        _drop_privileges(svc.user)
    os.execvpe(svc.command[0], svc.command, svc.env or dict(os.environ))  # noqa: S606 - the service itself
    return 127  # not reached: exec replaced this process or raised


if __name__ == "__main__":
    sys.exit(main())
