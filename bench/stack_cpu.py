"""CPU used by the local stack's services and by the whole machine, from /proc.

Shared by the benchmark scripts in this folder (run as ``python bench/<script>.py``, so
this folder is on ``sys.path``).
"""

from __future__ import annotations

import os
from collections import defaultdict

from kafka_elt.stack.config import StackConfig


def _proc_table() -> dict[int, tuple[int, int, float]]:
    """pid -> (parent pid, process group, CPU seconds incl. reaped children), zombies included."""
    tick = os.sysconf("SC_CLK_TCK")
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        cpu = sum(int(v) for v in fields[11:15]) / tick  # utime stime cutime cstime
        table[int(entry.name)] = (int(fields[1]), int(fields[2]), cpu)
    return table


def stack_cpu_seconds(cfg: StackConfig) -> dict[str, float]:
    """CPU seconds used so far by each service of .stack/run/*.pid: its process group and
    every descendant (task processes, dbt), exited ones through their parent's cutime."""
    from kafka_elt.stack.paths import pid_file

    table = _proc_table()
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (ppid, _, _) in table.items():
        children[ppid].append(pid)
    claimed: set[int] = set()
    used = {}
    for path in sorted(pid_file(cfg, "any").parent.glob("*.pid")):
        try:
            root = int(path.read_text().strip())
        except ValueError:
            continue
        todo = [pid for pid, (_, pgid, _) in table.items() if pgid == root or pid == root]
        members = set()
        while todo:
            pid = todo.pop()
            if pid not in members and pid not in claimed:
                members.add(pid)
                todo += children.get(pid, [])
        claimed |= members
        used[path.stem] = sum(table[pid][2] for pid in members)
    return used


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all processes, all cores) so far."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait
