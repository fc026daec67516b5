"""librdkafka's log lines and error events, in the pipeline's log at the level they deserve.

While a broker restarts, librdkafka reports every failed connection attempt ("Connect to
... failed: Connection refused", ``_TRANSPORT``, ``_ALL_BROKERS_DOWN``) at error level,
several times a second, and then recovers by itself. Left to itself it writes them to
stderr, which Airflow logs as errors: a drain that succeeded looked like a failure.

``KafkaClientLog`` is given to the consumer as its ``logger`` and ``error_cb``. Transient
connection trouble becomes one WARNING per broker per ``window_s`` with a count; other
lines keep librdkafka's level. Whether the trouble matters is the drain's decision: when
it gives up, it raises an IngestError and quotes ``story()``, what the client went through.

librdkafka hands both to Python only when the client is polled (``consume``/``poll``);
``consumer.serve_client_events`` polls consumers that are never assigned.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)

# KafkaError codes (confluent_kafka.KafkaError.*) that librdkafka recovers from by
# itself by reconnecting: the broker is restarting, briefly unreachable or slow.
TRANSIENT_CODES = {
    -195: "_TRANSPORT",
    -187: "_ALL_BROKERS_DOWN",
    -193: "_RESOLVE",
    -185: "_TIMED_OUT",
}
_AUTHENTICATION = -169
_TRANSIENT_TEXT = re.compile(
    r"connection refused|connect to .* failed|brokers? (?:are|is) down|disconnected|connection reset"
    r"|broken pipe|failed to resolve|timed out|receive failed|send failed|transport failure",
    re.IGNORECASE,
)
# "[thrd:127.0.0.1:9092/1]: " opens most lines; the broker's host:port follows it.
_THREAD_PREFIX = re.compile(r"^\[thrd:[^\]]*\]:\s*")
_ALL = "all brokers"
_BROKER = re.compile(r"(?<![\w#])([A-Za-z0-9][A-Za-z0-9.\-]*:\d+)")


def is_transient(code: int | None, text: str) -> bool:
    """Whether a librdkafka error (``code``) or log line (``text``, code None) is connection
    trouble the client retries by itself."""
    if code is not None:
        return code in TRANSIENT_CODES
    return bool(_TRANSIENT_TEXT.search(text))


def broker_of(text: str) -> str:
    """The broker a librdkafka message is about ("127.0.0.1:9092"), or "all brokers"."""
    match = _BROKER.search(_THREAD_PREFIX.sub("", text))
    return match.group(1) if match else _ALL


@dataclass
class _Group:
    """Transient events about one broker since its last log line."""

    next_line_at: float
    count: int = 0
    latest: str = ""


class KafkaClientLog:
    """One Kafka client's librdkafka output, grouped and levelled (see module docstring).

    ``log`` has the signature confluent_kafka calls a ``logger`` with; ``error`` is an
    ``error_cb``. ``clock`` is injectable for tests.
    """

    def __init__(
        self, name: str, *, window_s: float = 10.0, logger: logging.Logger = log, clock=time.monotonic
    ):
        self.name = name
        self.window_s = window_s
        self.logger = logger
        self.clock = clock
        self._groups: dict[str, _Group] = {}
        self.transient_total = 0
        self.first_transient_at: float | None = None
        self.last_transient_at: float | None = None
        self.latest_transient = ""

    # confluent_kafka: logger.log(level, "%s [%s] %s", facility, client name, message)
    def log(self, level: int, msg: str, *args) -> None:
        facility, text = (args[0], args[-1]) if len(args) == 3 else ("", msg % args if args else msg)
        if level >= logging.WARNING and is_transient(None, text):
            self._transient(text)
        else:
            self.logger.log(level, "Kafka client %s: librdkafka %s: %s", self.name, facility, text)

    def error(self, err) -> None:
        """``error_cb``: transient errors grouped as warnings; authentication failures raise
        as the provider's own callback does; anything else logged as an error."""
        code = err.code()
        if code == _AUTHENTICATION:
            from airflow.providers.apache.kafka.hooks.consume import error_callback

            error_callback(err)  # raises KafkaAuthenticationError
        if is_transient(code, err.str()):
            self._transient(f"{err.str()} ({TRANSIENT_CODES[code]})")
        else:
            self.logger.error("Kafka client %s: %s", self.name, err)

    def _transient(self, text: str) -> None:
        now = self.clock()
        broker = broker_of(text)
        self.transient_total += 1
        self.first_transient_at = now if self.first_transient_at is None else self.first_transient_at
        self.last_transient_at, self.latest_transient = now, text
        group = self._groups.setdefault(broker, _Group(next_line_at=now))
        group.count += 1
        group.latest = text
        if now >= group.next_line_at:
            self._emit(broker, group, now)

    def _emit(self, broker: str, group: _Group, now: float) -> None:
        self.logger.warning(
            "Kafka client %s: %s unreachable for now, %d time(s) in the last %.0f s (latest: %s). "
            "librdkafka keeps reconnecting; this is an error only if the task gives up waiting.",
            self.name, broker if broker == _ALL else f"broker {broker}", group.count, self.window_s, group.latest,
        )  # fmt: skip
        group.count = 0
        group.next_line_at = now + self.window_s

    def flush(self) -> None:
        """Log the events still counted since each broker's last line (call before closing)."""
        now = self.clock()
        for broker, group in self._groups.items():
            if group.count:
                self._emit(broker, group, now)

    def transient_since(self, moment: float) -> bool:
        """Whether librdkafka reported connection trouble at or after ``moment`` (clock time)."""
        return self.last_transient_at is not None and self.last_transient_at >= moment

    def story(self) -> str:
        """For an error message: the client's connection trouble, or "" if it had none."""
        first, last = self.first_transient_at, self.last_transient_at
        if first is None or last is None:
            return ""
        return (
            f" The Kafka client reported {self.transient_total} connection error(s) over "
            f"{last - first:.0f} s, the latest {self.clock() - last:.0f} s ago: {self.latest_transient}."
        )
