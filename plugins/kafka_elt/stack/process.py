"""A long-running process of the stack: what to run, and how to start and stop it.

The stack's services run under supervisord (:mod:`kafka_elt.stack.supervision`), which
restarts them; a plain :class:`Service` starts and stops a process itself, by pid file,
for processes outside the stack (a test's private server) and for processes an older
unsupervised stack left running. Either way a service runs detached in its own process
group (so a terminal's Ctrl-C does not reach it), writes to one log file, and is stopped
by signalling its process group and then waiting until every process of that group is gone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


class StackError(RuntimeError):
    """A service failed to start, stop or answer; the message says what to look at."""


@dataclass
class Service:
    name: str
    command: list[str]
    log_file: Path
    pid_file: Path
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    user: str | None = None  # run as this OS user (PostgreSQL refuses root)
    stop_signal: int = signal.SIGTERM
    # Under supervision: restart on any exit ("true"), or only on an exit code outside
    # ``exit_codes`` ("unexpected": a clean shutdown asked for outside the stack stays down).
    autorestart: str = "true"
    exit_codes: tuple[int, ...] = (0,)
    # Seconds a start must last to count as started; an earlier exit is a failed start,
    # retried after a growing delay (supervisord's backoff). Must exceed how long the
    # program takes to fail, or a crash loop restarts at once.
    start_seconds: int = 5
    # (what, host, port): must accept connections before the program is started. Without
    # them a start fails at once and cheaply (no 2.5 s of Airflow imports per try), and
    # supervisord retries it with backoff.
    requires: tuple[tuple[str, str, int], ...] = ()

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def is_running(self) -> bool:
        return self.pid() is not None

    def start(self) -> int:
        if (pid := self.pid()) is not None:
            return pid
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            log.write(f"\n===== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {self.name}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env or None,
                cwd=self.cwd,
                start_new_session=True,
                user=self.user,
                group=self.user,
                extra_groups=[] if self.user else None,
            )
        self.pid_file.write_text(f"{proc.pid}\n")
        return proc.pid

    def stop(self, timeout: float = 30.0) -> bool:
        """Signal the service's process group (``stop_signal``), wait, SIGKILL after ``timeout``.

        Returns True if something was running.
        """
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        _signal_group(pid, self.stop_signal)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _group_alive(pid):
            time.sleep(0.2)
        if _group_alive(pid):
            _signal_group(pid, signal.SIGKILL)
            while _group_alive(pid):
                time.sleep(0.1)
        _reap(pid)
        self.pid_file.unlink(missing_ok=True)
        return True

    def tail(self, lines: int = 20) -> str:
        if not self.log_file.exists():
            return ""
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie has exited; its parent just has not reaped it
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def _reap(pid: int) -> None:
    """Collect the exit status if the service is our own child (it was started by this
    process, e.g. in a test): a zombie keeps its pid, and PostgreSQL, for one, refuses
    to start while the pid in its lock file still exists."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(entry.name))
    return pids


def _group_alive(pgid: int) -> bool:
    return bool(_group_pids(pgid))


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def wait_until(
    check: Callable[[], bool],
    *,
    what: str,
    timeout: float,
    service: Service | None = None,
    interval: float = 0.25,
) -> float:
    """Poll ``check`` until it is true; fail with the service's log tail otherwise."""
    start = time.monotonic()
    while True:
        try:
            if check():
                return time.monotonic() - start
        except Exception:  # noqa: S110 - not ready yet is any error
            pass
        if service is not None and not service.is_running():
            raise StackError(
                f"{service.name} exited while waiting for {what}. Last lines of {service.log_file}:\n"
                f"{service.tail(30)}"
            )
        if time.monotonic() - start > timeout:
            hint = f" Last lines of {service.log_file}:\n{service.tail(30)}" if service else ""
            raise StackError(f"timed out after {timeout:.0f}s waiting for {what}.{hint}")
        time.sleep(interval)
