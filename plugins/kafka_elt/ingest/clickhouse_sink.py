"""Write batches into ClickHouse: one columnar insert per target table.

ClickHouse has no transactions and no unique keys. Two things make a re-read offset
harmless: before inserting, the sink asks which offsets of the batch's range are already
stored (a range scan on the sorting key) and leaves them out, so counts stay exact
without ``FINAL``; and the tables are ReplacingMergeTree ordered by
(topic, partition, offset), which collapses any duplicate that still gets in (two
writers racing on one partition) when parts merge.

Raw rows carry the fields the validator decoded (settings.KIND_COLUMNS of the topic's
kind) and decoded_at_load = true; dead letters have no such columns.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kafka_elt.ingest.batch import Batch, SinkResult
from kafka_elt.ingest.registry import TopicSpec
from kafka_elt.settings import DEAD_LETTER_COLUMNS, DECODED_AT_LOAD, KIND_COLUMNS, RAW_COLUMNS

# Column order of the columnar insert: the tables' own (settings.RAW_COLUMNS), then for
# raw tables decoded_at_load and the kind's decoded fields (settings.KIND_COLUMNS).
_COLUMNS = RAW_COLUMNS
_DEAD_COLUMNS = DEAD_LETTER_COLUMNS


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


class ClickHouseSink:
    """Writes batches of one topic into its raw and dead-letter tables."""

    engine = "ClickHouse"

    def __init__(self, client, spec: TopicSpec) -> None:
        self.client = client
        self.spec = spec
        self.raw_table = spec.qualified_table
        self.dead_table = spec.qualified_dead_letter_table
        self._n_decoded = len(KIND_COLUMNS[spec.kind])
        # Created once: spares a DESCRIBE TABLE round trip per batch.
        self._raw_ctx = client.create_insert_context(
            self.raw_table, column_names=list(raw_insert_columns(spec.kind)), column_oriented=True
        )
        self._dead_ctx = client.create_insert_context(
            self.dead_table, column_names=list(_DEAD_COLUMNS), column_oriented=True
        )

    def _stored(self, table: str, batch: Batch, offsets: list[int]) -> set[int]:
        result = self.client.query(
            _STORED_OFFSETS.format(table=table),
            parameters={
                "topic": batch.topic,
                "partition": batch.partition,
                "first": offsets[0],
                "last": offsets[-1],
            },
        )
        return {row[0] for row in result.result_rows}

    @staticmethod
    def _keep(columns: list, offsets: list[int], stored: set[int]) -> list[list]:
        keep = [i for i, offset in enumerate(offsets) if offset not in stored]
        return [[column[i] for i in keep] for column in columns]

    def _insert_new(
        self,
        ctx,
        table: str,
        batch: Batch,
        columns: list,
        loaded_at,
        dag_run_id: str,
        decoded: list | None = None,
    ) -> int:
        """Insert the rows (``columns[0]`` holds their offsets) that ``table`` does not hold yet.

        ``columns``: the per-message columns between kafka_partition and ingested_at;
        ``decoded`` (raw tables): the decoded fields' columns, after decoded_at_load.
        """
        offsets = columns[0]
        stored = self._stored(table, batch, offsets)
        if stored:
            columns = self._keep(columns, offsets, stored)
            decoded = None if decoded is None else self._keep(decoded, offsets, stored)
        n = len(columns[0])
        if n:
            tail = [] if decoded is None else [[True] * n, *decoded]
            ctx.data = [
                [batch.topic] * n,
                [batch.partition] * n,
                *columns,
                [loaded_at] * n,
                [dag_run_id] * n,
                *tail,
            ]
            self.client.insert(context=ctx)
        return n

    def write(self, batch: Batch, ingested_at: datetime, dag_run_id: str) -> SinkResult:
        """Insert what of the batch is not stored yet. Each insert is atomic by itself."""
        loaded_at = _epoch_micros(ingested_at)
        raw, dead = batch.raw, batch.dead
        raw_inserted = dead_inserted = 0
        if len(raw):
            columns: list[list] = [raw.offsets, raw.keys, raw.values, raw.timestamps_ms, raw.headers]
            decoded = raw.decoded_columns(self._n_decoded)
            raw_inserted = self._insert_new(
                self._raw_ctx, self.raw_table, batch, columns, loaded_at, dag_run_id, decoded
            )
        if len(dead):
            columns = [dead.offsets, dead.keys, dead.values, dead.timestamps_ms, dead.headers, dead.reasons]
            dead_inserted = self._insert_new(
                self._dead_ctx, self.dead_table, batch, columns, loaded_at, dag_run_id
            )
        return SinkResult.of(batch, raw_inserted, dead_inserted)

    def close(self) -> None:
        self.client.close()
