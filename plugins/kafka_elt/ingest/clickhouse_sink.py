"""Write batches into ClickHouse: one columnar insert per target table and batch.

ClickHouse has no transactions and no unique keys. Two things make a re-read offset
harmless: before encoding rows, the sink asks which offsets of the chunk's range are
already stored (a range scan on the sorting key) and leaves them out, so counts stay
exact without ``FINAL``; and the tables are ReplacingMergeTree ordered by
(topic, partition, offset), which collapses any duplicate that still gets in (two
writers racing on one partition) when parts merge.

A batch reaches the sink in chunks (``drain.CHUNK_MESSAGES``), so that the drain never
holds a whole batch as Python objects. ``add`` encodes a chunk at once into a Native
block, LZ4-compressed (candle messages shrink ~10x), and keeps only those bytes;
``flush`` sends the batch's blocks in **one** INSERT per table, which the server squashes
into one part (``min_insert_block_size_rows``): as few parts to merge as one big insert,
for a tenth of the memory. The blocks declare LowCardinality columns as plain
``String``/``Nullable(String)``: the server converts them
(``input_format_native_allow_types_conversion``, on by default) in C++, where
clickhouse-connect would build each dictionary in Python (~2 us a message).

On a replicated cluster (``CLICKHOUSE_CLUSTER``; README, "Distributed") every insert is a
quorum insert, ``insert_quorum='auto'``: it returns once a majority of the replicas hold
the block, so the offsets committed after it survive the loss of any one replica.
``insert_quorum_parallel`` stays on (ClickHouse's default): with it off, a second insert
into a table is refused until the previous one reached its quorum, and the drains of a
topic's partitions insert into one table at once. That rules out
``select_sequential_consistency`` for the stored-offsets probe (it needs the parallel
mode off), so the probe reads the replica the sink is connected to, which holds every
block it inserted itself. A retry that lands on a replica not yet holding a block that a
quorum acknowledged re-inserts those rows; the ReplacingMergeTree key collapses them, and
staging reads with ``FINAL``.

Raw rows carry the fields the validator decoded (settings.KIND_COLUMNS of the topic's
kind) and decoded_at_load = true; dead letters have no such columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from kafka_elt.ingest.batch import Batch, SinkResult
from kafka_elt.ingest.ddl import clickhouse_cluster
from kafka_elt.ingest.registry import TopicSpec
from kafka_elt.settings import DEAD_LETTER_COLUMNS, DECODED_AT_LOAD, KIND_COLUMNS, RAW_COLUMNS

# Column order of the columnar insert: the tables' own (settings.RAW_COLUMNS), then for
# raw tables decoded_at_load and the kind's decoded fields (settings.KIND_COLUMNS).
_COLUMNS = RAW_COLUMNS
_DEAD_COLUMNS = DEAD_LETTER_COLUMNS
_COMPRESSION = "lz4"


def raw_insert_columns(kind: str) -> tuple[str, ...]:
    return (*_COLUMNS, DECODED_AT_LOAD, *(name for name, _, _ in KIND_COLUMNS[kind]))


_STORED_OFFSETS = """
select kafka_offset from {table}
where kafka_topic = {{topic:String}} and kafka_partition = {{partition:Int32}}
  and kafka_offset between {{first:Int64}} and {{last:Int64}}
"""


_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _epoch_micros(moment: datetime) -> int:
    """DateTime64(6) as raw ticks: clickhouse-connect writes ints without conversion."""
    return (moment - _UNIX_EPOCH) // timedelta(microseconds=1)


def _wire_type(ch_type):
    """The type a Native block declares for a column: LowCardinality(T) as plain T."""
    from clickhouse_connect.datatypes.registry import get_from_name

    name = ch_type.name
    if ch_type.low_card and name.startswith("LowCardinality(") and name.endswith(")"):
        return get_from_name(name[len("LowCardinality(") : -1])
    return ch_type


class NativeEncoder:
    """Columns of Python values -> one Native-format block (what clickhouse-connect's own
    insert writes per block), compressed; the column types are the table's."""

    def __init__(
        self, table: str, column_names: Sequence[str], column_types: Sequence, compression: str | None
    ):
        from clickhouse_connect.driver.insert import InsertContext

        if compression not in (None, "lz4"):
            raise ValueError(f"compression must be 'lz4' or None, got {compression!r}")
        self.table = table
        self.names = list(column_names)
        self.types = [_wire_type(t) for t in column_types]
        # A Nullable column with no NULL in a block is sent as its plain type: no null
        # map built in Python, one value at a time (the server converts it back).
        self._not_null = [_not_null_type(t) for t in self.types]
        self.compression = compression
        self._ctx = InsertContext(table, self.names, self.types, column_oriented=True)
        # Per column: (the type, its NOT NULL variant if Nullable) and their block headers.
        self._types = [(t,) if n is None else (t, n) for t, n in zip(self.types, self._not_null, strict=True)]
        self._headers = [
            tuple(_column_header(name, t) for t in types)
            for name, types in zip(self.names, self._types, strict=True)
        ]

    def block(self, columns: Sequence[Sequence]) -> bytes:
        if len(columns) != len(self.names):
            raise ValueError(f"{len(columns)} columns for {len(self.names)} names")
        out = bytearray()
        _leb128(len(columns), out)
        _leb128(len(columns[0]), out)
        ctx = self._ctx
        for name, headers, types, column in zip(self.names, self._headers, self._types, columns, strict=True):
            # The plain variant when there is one and the column holds no NULL.
            which = 1 if len(types) > 1 and None not in column else 0
            out += headers[which]
            ctx.start_column(name)
            types[which].write_column(column, out, ctx)
        if self.compression == "lz4":
            import lz4.frame

            return lz4.frame.compress(out)
        return bytes(out)


def _not_null_type(ch_type):
    """Nullable(T) -> T; None for a type that is not Nullable."""
    from clickhouse_connect.datatypes.registry import get_from_name

    name = ch_type.name
    if ch_type.nullable and name.startswith("Nullable(") and name.endswith(")"):
        return get_from_name(name[len("Nullable(") : -1])
    return None


def _column_header(name: str, ch_type) -> bytes:
    header = bytearray()
    for text in (name, ch_type.insert_name):
        data = text.encode()
        _leb128(len(data), header)
        header += data
    return bytes(header)


def _leb128(value: int, out: bytearray) -> None:
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return


@dataclass
class _Pending:
    """One table's share of the open batch: encoded blocks and the rows in them."""

    blocks: list[bytes] = field(default_factory=list)
    rows: int = 0


class ClickHouseSink:
    """Writes batches of one topic into its raw and dead-letter tables: ``add`` each
    chunk, then ``flush`` the batch (or ``write`` a batch in one go)."""

    engine = "ClickHouse"

    def __init__(self, client, spec: TopicSpec, compression: str | None = _COMPRESSION) -> None:
        # Offsets one probe for stored rows covers (see _stored): a batch's worth.
        self.probe_window = spec.batch_size
        self.client = client
        self.spec = spec
        self.raw_table = spec.qualified_table
        self.dead_table = spec.qualified_dead_letter_table
        self._n_decoded = len(KIND_COLUMNS[spec.kind])
        # Created once: the table's column types, one DESCRIBE TABLE for the whole drain.
        self._raw = self._encoder(self.raw_table, raw_insert_columns(spec.kind), compression)
        self._dead = self._encoder(self.dead_table, _DEAD_COLUMNS, compression)
        self.compression = compression
        # Read once per sink, as the DDL reads it once per run (module docstring).
        self.insert_settings = {"insert_quorum": "auto"} if clickhouse_cluster() else {}
        self._pending: dict[str, _Pending] = {}
        self._probed: dict[str, tuple[int, int, set[int]]] = {}  # table -> (first, last, stored)
        self._counts = [0, 0, 0, 0]  # raw in batch, raw written, dead in batch, dead written
        self.discard()

    def _encoder(self, table: str, names: Sequence[str], compression: str | None) -> NativeEncoder:
        ctx = self.client.create_insert_context(table, column_names=list(names), column_oriented=True)
        return NativeEncoder(table, names, ctx.column_types, compression)

    def _stored(self, table: str, batch: Batch, offsets: list[int]) -> set[int]:
        """The offsets of ``offsets``' range that ``table`` holds. Asked once per batch: the
        first chunk's probe covers ``probe_window`` offsets, later chunks re-ask only when
        they reach past it (a round trip per chunk cost seconds per 100,000 messages on a
        busy server)."""
        first, last = offsets[0], offsets[-1]
        known = self._probed.get(table)
        if known is None or first < known[0] or last > known[1]:
            top = max(last, first + self.probe_window - 1)
            result = self.client.query(
                _STORED_OFFSETS.format(table=table),
                parameters={"topic": batch.topic, "partition": batch.partition, "first": first, "last": top},
            )
            known = self._probed[table] = (first, top, {row[0] for row in result.result_rows})
        return known[2]

    @staticmethod
    def _keep(columns: list, offsets: list[int], stored: set[int]) -> list[list]:
        keep = [i for i, offset in enumerate(offsets) if offset not in stored]
        return [[column[i] for i in keep] for column in columns]

    def _encode_new(
        self,
        encoder: NativeEncoder,
        batch: Batch,
        columns: list,
        loaded_at: int,
        dag_run_id: str,
        decoded: list | None = None,
    ) -> int:
        """Encode the rows (``columns[0]`` holds their offsets) that the table does not hold yet.

        ``columns``: the per-message columns between kafka_partition and ingested_at;
        ``decoded`` (raw tables): the decoded fields' columns, after decoded_at_load.
        """
        table = encoder.table
        offsets = columns[0]
        stored = self._stored(table, batch, offsets)
        if stored and not stored.isdisjoint(offsets):
            columns = self._keep(columns, offsets, stored)
            decoded = None if decoded is None else self._keep(decoded, offsets, stored)
        n = len(columns[0])
        if n:
            tail = [] if decoded is None else [[True] * n, *decoded]
            block = encoder.block(
                [[batch.topic] * n, [batch.partition] * n, *columns, [loaded_at] * n, [dag_run_id] * n, *tail]
            )
            pending = self._pending[table]
            pending.blocks.append(block)
            pending.rows += n
        return n

    def add(self, batch: Batch, ingested_at: datetime, dag_run_id: str) -> None:
        """Encode one chunk of the open batch (what of it is not stored yet); nothing is sent."""
        loaded_at = _epoch_micros(ingested_at)
        raw, dead = batch.raw, batch.dead
        if len(raw):
            columns: list[list] = [raw.offsets, raw.keys, raw.values, raw.timestamps_ms, raw.headers]
            decoded = raw.decoded_columns(self._n_decoded)
            self._counts[0] += len(raw)
            self._counts[1] += self._encode_new(self._raw, batch, columns, loaded_at, dag_run_id, decoded)
        if len(dead):
            columns = [dead.offsets, dead.keys, dead.values, dead.timestamps_ms, dead.headers, dead.reasons]
            self._counts[2] += len(dead)
            self._counts[3] += self._encode_new(self._dead, batch, columns, loaded_at, dag_run_id)

    def flush(self) -> SinkResult:
        """Insert the open batch: one INSERT per table (each atomic by itself)."""
        try:
            for encoder in (self._raw, self._dead):
                pending = self._pending[encoder.table]
                if pending.rows:
                    self.client.raw_insert(
                        encoder.table,
                        encoder.names,
                        insert_block=b"".join(pending.blocks),
                        settings=self.insert_settings or None,
                        fmt="Native",
                        compression=self.compression,
                    )
            in_raw, raw_written, in_dead, dead_written = self._counts
            return SinkResult(raw_written, in_raw - raw_written, dead_written, in_dead - dead_written)
        finally:
            self.discard()

    def discard(self) -> None:
        """Forget the open batch (after a flush, or when the batch failed elsewhere)."""
        self._pending = {self.raw_table: _Pending(), self.dead_table: _Pending()}
        self._counts = [0, 0, 0, 0]
        self._probed = {}

    def write(self, batch: Batch, ingested_at: datetime, dag_run_id: str) -> SinkResult:
        """Insert what of the batch is not stored yet, as one chunk."""
        self.discard()
        self.add(batch, ingested_at, dag_run_id)
        return self.flush()

    def close(self) -> None:
        self.client.close()
